"""The debiasing paper's Figures 3-4 from a sweep: the difference in scores, the classifier accuracy (beside
the most-frequent rate) and the MRR against the KL weight of one attribute, each point the mean over the
sweep's seeds with their standard deviation as error bars (``kgcore.sweep.sweep_points`` computes them).
The weights sit at even steps, labelled with their values, since a sweep usually holds 0 and powers of ten."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..colours import INK, MISSING, NEUTRAL

FONT = dict(family="Inter, 'Source Sans Pro', sans-serif", size=13)
PANELS = (("difference", "Difference in scores"), ("accuracy", "Classifier accuracy"), ("mrr", "MRR"))


def _label(x) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def sweep_figure(points: pd.DataFrame, attribute: str, x_title: str | None = None) -> go.Figure:
    """Three panels side by side from ``sweep_points(summary, attribute)``."""
    labels = [_label(x) for x in points["x"]]
    figure = make_subplots(rows=1, cols=3, subplot_titles=[title for _, title in PANELS], horizontal_spacing=0.08)
    for col, (name, title) in enumerate(PANELS, start=1):
        std = points[f"{name}_std"].fillna(0.0)
        figure.add_trace(go.Scatter(
            x=labels, y=points[f"{name}_mean"], mode="lines+markers", name=title, showlegend=False,
            line=dict(color=INK), marker=dict(size=8), error_y=dict(type="data", array=std, visible=True, color=NEUTRAL),
            customdata=points["runs"], hovertemplate=f"w_KL %{{x}}<br>{title} %{{y:.4f}}<br>%{{customdata}} runs<extra></extra>"),
            row=1, col=col)
        if name == "accuracy":
            figure.add_trace(go.Scatter(
                x=labels, y=points["most_frequent_rate_mean"], mode="lines", name="most-frequent rate",
                line=dict(color=MISSING, dash="dash"), hovertemplate="most-frequent rate %{y:.4f}<extra></extra>"),
                row=1, col=col)
        figure.update_xaxes(title_text=x_title or f"w_KL ({attribute})", type="category", row=1, col=col)
    figure.update_layout(font=FONT, height=360, margin=dict(l=40, r=20, t=50, b=40), plot_bgcolor="white",
                         legend=dict(orientation="h", y=-0.25), title=dict(text=f"{attribute}: what is left against w_KL",
                                                                           x=0.0, font=dict(size=15)))
    figure.update_yaxes(gridcolor="#e5e9f0", zeroline=False)
    return figure
