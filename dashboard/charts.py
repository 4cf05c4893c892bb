"""Plotly figures of the dashboard. Drawing only: every number arrives computed by kgcore."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

if TYPE_CHECKING:  # imported where used
    import pandas as pd

from kgcore.colours import INK, MISSING, NEUTRAL
from vega import FONT_FAMILY

FONT = dict(family=FONT_FAMILY, size=13)


def _style(fig: go.Figure, height: int, **layout: Any) -> go.Figure:
    layout.setdefault("margin", dict(l=10, r=10, t=40, b=10))
    fig.update_layout(height=height, font=FONT, template="plotly_white", **layout)
    return fig


def bias_and_counts(rows: pd.DataFrame, b_column: str, count_columns: list[str], count_labels: list[str],
                    low_label: str, high_label: str, colours: dict[str, str], unit: str = "") -> go.Figure:
    """Diverging bars of B (left) beside stacked bars of the counts per value (right), one row per
    profession, sharing the profession axis; ``colours``: each value's colour (colours.value_colours), the
    same in both halves."""
    from plotly.subplots import make_subplots

    rows = rows.sort_values(b_column)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.55, 0.45], horizontal_spacing=0.02,
                        subplot_titles=(f"How strongly the model links it {unit}", "People in the graph"))
    low_colour, high_colour = colours.get(low_label, MISSING), colours.get(high_label, MISSING)
    bars = [high_colour if b > 0 else low_colour for b in rows[b_column]]
    fig.add_trace(go.Bar(y=rows["label"], x=rows[b_column], orientation="h", marker_color=bars,
                         name="bias B", showlegend=False,
                         hovertemplate="%{y}: B = %{x:.4g}<extra></extra>"), 1, 1)
    for column, label in zip(count_columns, count_labels):
        fig.add_trace(go.Bar(y=rows["label"], x=rows[column], orientation="h", name=label,
                             marker_color=colours.get(label, MISSING),
                             hovertemplate=f"%{{y}}: %{{x:,}} {label}<extra></extra>"), 1, 2)
    fig.update_layout(barmode="stack", legend=dict(orientation="h", y=-0.08, x=0.6, title_text="recorded as",
                                                  traceorder="normal"))
    fig.add_vline(x=0, line_color=INK, line_width=1, row=1, col=1)
    for text, colour, x, anchor in ((f"← {low_label}", low_colour, 0.0, "left"),
                                    (f"{high_label} →", high_colour, 0.55, "right")):
        fig.add_annotation(text=f"<b>{text}</b>", x=x, xref="paper", y=1.0, yref="paper", yanchor="bottom",
                           xanchor=anchor, showarrow=False, font=dict(color=colour, size=12), yshift=-2)
    fig.update_xaxes(zeroline=False)
    return _style(fig, max(380, 22 * len(rows) + 110))


def bias_vs_share(frame: pd.DataFrame, share_column: str, b_column: str, value: str, overall_share: float,
                  colour: str, unit: str = "") -> go.Figure:
    """Each profession: the data's share of ``value`` (x) against the model's B (y)."""
    import numpy as np

    size = np.sqrt(frame["people"].clip(lower=1).to_numpy())
    fig = go.Figure(go.Scatter(
        x=frame[share_column], y=frame[b_column], mode="markers", text=frame["label"],
        marker=dict(size=6 + 14 * size / max(size.max(), 1), color=colour, opacity=0.75,
                    line=dict(color="white", width=0.5)),
        customdata=frame[["people"]].to_numpy(),
        hovertemplate=("%{text}<br>share " + value + " in the graph: %{x:.0%}<br>B: %{y:.4g}"
                       "<br>%{customdata[0]:,} people<extra></extra>")))
    fig.add_vline(x=overall_share, line_dash="dot", line_color=NEUTRAL,
                  annotation_text=f"overall share {overall_share:.0%}", annotation_position="top")
    fig.add_hline(y=0, line_color=NEUTRAL, line_width=1)
    fig.update_xaxes(title=f"share of {value} among the profession's people (data)", tickformat=".0%",
                     range=[-0.03, 1.03])
    fig.update_yaxes(title=f"bias score B toward {value} {unit} (model)")
    return _style(fig, 420, showlegend=False)


def bias_distribution(frame: pd.DataFrame, b_label: str, run_colours: dict[str, str], value: str,
                      value_colour: str) -> go.Figure:
    """Per run: the distribution of B over professions (box with every profession as a point)."""
    fig = go.Figure()
    for name, part in frame.groupby("run", sort=False):
        colour = run_colours.get(name, INK)
        fig.add_trace(go.Box(y=part["B"], x=[name] * len(part), name=name, boxpoints="all", jitter=0.4,
                             pointpos=0, marker=dict(size=5, color=colour, opacity=0.6),
                             line=dict(color=colour), text=part["label"],
                             hovertemplate="%{text}: %{y:.4g}<extra>" + name + "</extra>"))
    fig.add_hline(y=0, line_color=NEUTRAL, line_width=1)
    _sign_labels(fig, value, value_colour)
    fig.update_yaxes(title=b_label)
    return _style(fig, 420, showlegend=False, margin=dict(l=10, r=90, t=40, b=10))


def profession_across_models(frame: pd.DataFrame, value: str, run_colours: dict[str, str], value_colour: str,
                              unit: str = "") -> go.Figure:
    """One profession's B toward ``value`` in each run (bars in the runs' colours; the sign's meaning is
    written above and below zero in the value's colour)."""
    fig = go.Figure(go.Bar(x=frame["run"], y=frame["B"], marker_color=[run_colours.get(r, INK) for r in frame["run"]],
                           hovertemplate="%{x}: %{y:.4g}<extra></extra>", showlegend=False))
    fig.add_hline(y=0, line_color=NEUTRAL, line_width=1)
    _sign_labels(fig, value, value_colour)
    fig.update_yaxes(title=f"link to {value} {unit}".strip())
    return _style(fig, 360, margin=dict(l=10, r=90, t=40, b=10))


def _sign_labels(fig: go.Figure, value: str, colour: str) -> None:
    """"more {value}" above zero and "less" below, in the value's colour, at the right edge."""
    for text, y, anchor in ((f"↑ more {value}", 1.0, "top"), (f"↓ less {value}", 0.0, "bottom")):
        fig.add_annotation(text=text, x=1.0, xref="paper", xanchor="left", y=y, yref="paper", yanchor=anchor,
                           showarrow=False, font=dict(color=colour, size=12))


def probe_bars(frame: pd.DataFrame, run_colours: dict[str, str], facts_auc: float | None = None) -> go.Figure:
    """Leakage probe ROC-AUC per model (and, with a ``prediction_auc`` column, the AUC of the model's own
    prediction as a paler bar beside it), with chance and, where known, the AUC of the same probe on the
    people's other recorded facts as reference lines."""
    colours = [run_colours.get(r, INK) for r in frame["run"]]
    paired = "prediction_auc" in frame
    series = [("roc_auc", "linear probe of the vectors", 1.0, "probe")]
    if paired:
        series.append(("prediction_auc", "the model's own prediction", 0.4, "own prediction"))
    fig = go.Figure()
    for column, name, opacity, hover in series:
        fig.add_trace(go.Bar(x=frame["run"], y=frame[column], marker_color=colours, marker_opacity=opacity,
                             showlegend=False, text=[f"{v:.2f}" for v in frame[column]], textposition="outside",
                             cliponaxis=False, hovertemplate=f"%{{x}}: {hover} ROC-AUC %{{y:.3f}}<extra></extra>"))
        if paired:  # a neutral swatch per series (the bars take each model's colour)
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                     marker=dict(symbol="square", size=12, color=INK, opacity=opacity)))
    fig.update_layout(barmode="group")
    fig.add_hline(y=0.5, line_dash="dot", line_color=INK, annotation_text="chance", annotation_position="right")
    if facts_auc is not None:
        fig.add_hline(y=facts_auc, line_dash="dash", line_color=INK, annotation_text="other facts",
                      annotation_position="right")
    fig.update_yaxes(title="ROC-AUC", range=[0, 1.1])
    return _style(fig, 360, showlegend=paired, margin=dict(l=10, r=80, t=40, b=10),  # room for the lines' labels
                  **({"legend": dict(orientation="h", y=-0.2)} if paired else {}))
