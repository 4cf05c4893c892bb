"""Plotly figures shared by the dashboard and the hand-out report (drawing only: every number arrives
computed by kgcore.analysis). Plain plotly and pandas, no torch."""
