"""Plotly figures of the dashboard. Drawing only: every number arrives computed by kgcore."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import plotly.graph_objects as go

if TYPE_CHECKING:  # imported where used: the Overview's first chart needs neither
    import pandas as pd

from colours import value_colour
from model_info import model_colour

FONT = dict(family="Inter, 'Source Sans Pro', sans-serif", size=13)
NEUTRAL = "#9aa5b1"
INK = "#2e3440"


def _style(fig: go.Figure, height: int, **layout: Any) -> go.Figure:
    layout.setdefault("margin", dict(l=10, r=10, t=40, b=10))
    fig.update_layout(height=height, font=FONT, template="plotly_white", **layout)
    return fig


def value_counts(values: list[str], people: list[int], missing: int, attribute: str, limit: int = 12) -> go.Figure:
    """People per value of an attribute (the seed's Wikidata figure of men and women)."""
    values, people = list(values), list(people)
    if len(values) > limit:
        values = values[:limit] + [f"{len(values) - limit} other values"]
        people = people[:limit] + [sum(people[limit:])]
    total = sum(people) + missing
    colours = [value_colour(i) for i in range(len(values))]
    if missing:
        values, people = values + ["not recorded"], people + [missing]
        colours.append("#d8dee9")
    fig = go.Figure(go.Bar(x=values, y=people, marker_color=colours,
                           text=[f"{n:,}<br>({n / max(total, 1):.0%})" for n in people],
                           textposition="outside", cliponaxis=False,
                           hovertemplate="%{x}: %{y:,} people<extra></extra>"))
    fig.update_yaxes(title="people", rangemode="tozero", range=[0, max(people, default=1) * 1.25])
    fig.update_xaxes(title=attribute)
    return _style(fig, 360, showlegend=False, title=f"People by recorded {attribute}")


def bias_and_counts(rows: pd.DataFrame, b_column: str, count_columns: list[str], count_labels: list[str],
                    low_label: str, high_label: str, low_colour: str, high_colour: str, unit: str = "") -> go.Figure:
    """Diverging bars of B (left) beside stacked bars of the counts per value (right), one row per
    profession, sharing the profession axis."""
    from plotly.subplots import make_subplots

    rows = rows.sort_values(b_column)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.55, 0.45], horizontal_spacing=0.02,
                        subplot_titles=(f"Bias score B {unit} ← {low_label} · {high_label} →", "People in the graph"))
    colours = [high_colour if b > 0 else low_colour for b in rows[b_column]]
    fig.add_trace(go.Bar(y=rows["label"], x=rows[b_column], orientation="h", marker_color=colours,
                         name="bias B", showlegend=False,
                         hovertemplate="%{y}: B = %{x:.4g}<extra></extra>"), 1, 1)
    for index, (column, label) in enumerate(zip(count_columns, count_labels)):
        fig.add_trace(go.Bar(y=rows["label"], x=rows[column], orientation="h", name=label,
                             marker_color=value_colour(index),
                             hovertemplate=f"%{{y}}: %{{x:,}} {label}<extra></extra>"), 1, 2)
    fig.update_layout(barmode="stack", legend=dict(orientation="h", y=-0.08, x=0.6, title_text="recorded as",
                                                  traceorder="normal"))
    fig.add_vline(x=0, line_color=INK, line_width=1, row=1, col=1)
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


def shift_animation(backdrop: pd.DataFrame, path: pd.DataFrame, ranking: pd.DataFrame, person_label: str,
                    values: Sequence[str], target_value: str, held_value: str | None,
                    held_professions: Sequence[str], relation_names: tuple[str, str]) -> go.Figure:
    """The person moving in a fixed 2-D map (left) and the professions the model ranks highest for them at
    each step (right); Play and a step slider drive both."""
    import pandas as pd
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.12,
                        subplot_titles=("Embedding space (fixed 2-D map)", "Professions the model ranks highest"))
    people = backdrop[backdrop["kind"] == "person"]
    professions = backdrop[backdrop["kind"] == "profession"].set_index("entity")
    value_points = backdrop[backdrop["kind"] == "value"]
    value_index = {v: i for i, v in enumerate(values)}
    target_colour = value_colour(value_index.get(target_value, 1))
    person_colour = value_colour(value_index[held_value]) if held_value in value_index else INK
    held = set(held_professions)
    fig.add_trace(go.Scatter(x=people["x"], y=people["y"], mode="markers", name="people",
                             marker=dict(size=4, color="#d8dee9"), text=people["label"],
                             hovertemplate="%{text}<extra>person</extra>"), 1, 1)
    fig.add_trace(go.Scatter(x=professions["x"], y=professions["y"], mode="markers", name="professions",
                             marker=dict(size=7, color=NEUTRAL, symbol="square"), text=professions["label"],
                             hovertemplate="%{text}<extra>profession</extra>"), 1, 1)
    fig.add_trace(go.Scatter(x=value_points["x"], y=value_points["y"], mode="markers+text", name="attribute values",
                             text=value_points["label"], textposition="top center",
                             marker=dict(size=16, symbol="diamond",
                                         color=[value_colour(value_index.get(v, 7)) for v in value_points["label"]],
                                         line=dict(color="white", width=1)),
                             textfont=dict(size=14, color=INK),
                             hovertemplate="%{text}<extra>attribute value</extra>"), 1, 1)
    static = len(fig.data)
    steps = sorted(path["step"].unique())

    def dynamic(step: int) -> list[go.BaseTraceType]:
        row = path[path["step"] == step].iloc[0]
        so_far = path[path["step"] <= step]
        top = ranking[ranking["step"] == step].sort_values("rank")
        near = professions.reindex(top["entity"]).dropna(subset=["x"])
        labels = [label if rank < 3 else "" for rank, label in enumerate(near["label"])]  # top 3: readable
        arrow = dict(size=[0, 13], symbol=["circle", "arrow"], angleref="previous")
        return [
            go.Scatter(x=so_far["x"], y=so_far["y"], mode="lines", line=dict(color=target_colour, dash="dot", width=2),
                       name="path", hoverinfo="skip"),
            go.Scatter(x=[row["x"], row["ax"]], y=[row["y"], row["ay"]], mode="lines+markers",
                       line=dict(color=target_colour, width=3), marker=dict(color=target_colour, **arrow),
                       name=f"+ {relation_names[0]} relation", hoverinfo="skip"),
            go.Scatter(x=[row["x"], row["px"]], y=[row["y"], row["py"]], mode="lines+markers",
                       line=dict(color=INK, width=3), marker=dict(color=INK, **arrow),
                       name=f"+ {relation_names[1]} relation", hoverinfo="skip"),
            go.Scatter(x=near["x"], y=near["y"], mode="markers+text", text=labels, textposition="middle right",
                       hovertext=near["label"],
                       marker=dict(size=10, symbol="square", color="#5e81ac"), textfont=dict(size=11, color="#3b4252"),
                       name="top professions now", hovertemplate="%{hovertext}<extra>top profession</extra>"),
            go.Scatter(x=[row["x"]], y=[row["y"]], mode="markers+text", text=[person_label], textposition="bottom center",
                       marker=dict(size=20, symbol="star", color=person_colour, line=dict(color=INK, width=1)),
                       name=person_label, hovertemplate=f"{person_label} at step {step}<extra></extra>"),
            go.Bar(x=top["probability"], y=top["label"], orientation="h", showlegend=False,
                   marker_color=["#bf616a" if e in held else "#5e81ac" for e in top["entity"]],
                   text=[f"{p:.1%}" for p in top["probability"]], textposition="outside", cliponaxis=False,
                   hovertemplate="%{y}: %{x:.1%}<extra></extra>"),
        ]

    first = dynamic(steps[0])
    for index, trace in enumerate(first):
        fig.add_trace(trace, 1, 2 if index == len(first) - 1 else 1)
    indices = list(range(static, static + len(first)))
    fig.frames = [go.Frame(data=dynamic(step), traces=indices, name=str(step)) for step in steps]
    xs = pd.concat([backdrop["x"], path["x"], path["ax"], path["px"]])
    ys = pd.concat([backdrop["y"], path["y"], path["ay"], path["py"]])
    pad_x, pad_y = (xs.max() - xs.min()) * 0.08 + 1e-6, (ys.max() - ys.min()) * 0.08 + 1e-6
    fig.update_xaxes(range=[xs.min() - pad_x, xs.max() + pad_x * 3], showticklabels=False, showgrid=False,
                     zeroline=False, title="", row=1, col=1)
    fig.update_yaxes(range=[ys.min() - pad_y, ys.max() + pad_y], showticklabels=False, showgrid=False,
                     zeroline=False, title="", row=1, col=1)
    fig.update_xaxes(range=[0, ranking["probability"].max() * 1.3], tickformat=".0%", title="probability",
                     row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    frame_ms = 450
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.06, xanchor="left", yanchor="top",
                          pad=dict(r=10, t=10), showactive=False,
                          buttons=[dict(label="▶ Play", method="animate",
                                        args=[None, dict(frame=dict(duration=frame_ms, redraw=True),
                                                         transition=dict(duration=200), fromcurrent=True,
                                                         mode="immediate")]),
                                   dict(label="❚❚ Pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False),
                                                           mode="immediate", transition=dict(duration=0))])])],
        sliders=[dict(active=0, x=0.2, y=-0.02, len=0.8, xanchor="left", yanchor="top",
                      currentvalue=dict(prefix="step ", font=dict(size=13)), pad=dict(t=30),
                      steps=[dict(label=str(step), method="animate",
                                  args=[[str(step)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                                          transition=dict(duration=0))]) for step in steps])],
        legend=dict(orientation="h", y=1.12, x=0, font=dict(size=11)),
    )
    return _style(fig, 620, margin=dict(l=10, r=30, t=90, b=110))


def bias_distribution(frame: pd.DataFrame, b_label: str) -> go.Figure:
    """Per model: the distribution of B over professions (box with every profession as a point)."""
    fig = go.Figure()
    for (model, name), part in frame.groupby(["model", "run"], sort=False):
        fig.add_trace(go.Box(y=part["B"], x=[name] * len(part), name=name, boxpoints="all", jitter=0.4,
                             pointpos=0, marker=dict(size=5, color=model_colour(model), opacity=0.6),
                             line=dict(color=model_colour(model)), text=part["label"],
                             hovertemplate="%{text}: B = %{y:.4g}<extra>" + name + "</extra>"))
    fig.add_hline(y=0, line_color=NEUTRAL, line_width=1)
    fig.update_yaxes(title=b_label)
    return _style(fig, 420, showlegend=False)


def profession_across_models(frame: pd.DataFrame, values: list[str], unit: str = "") -> go.Figure:
    """One profession's B per value in each model (grouped bars)."""
    fig = go.Figure()
    for index, value in enumerate(values):
        part = frame[frame["value"] == value]
        fig.add_trace(go.Bar(x=part["run"], y=part["B"], name=f"B toward {value}", marker_color=value_colour(index),
                             hovertemplate="%{x}: %{y:.4g}<extra>" + value + "</extra>"))
    fig.add_hline(y=0, line_color=NEUTRAL, line_width=1)
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=1.1))
    fig.update_yaxes(title=f"bias score B {unit}".strip())
    return _style(fig, 360)


def probe_bars(frame: pd.DataFrame, facts_auc: float | None = None) -> go.Figure:
    """Leakage probe ROC-AUC per model (and, with a ``prediction_auc`` column, the AUC of the model's own
    prediction as a paler bar beside it), with chance and, where known, the AUC of the same probe on the
    people's other recorded facts as reference lines."""
    colours = [model_colour(m) for m in frame["model"]]
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
