"""The embedding-shift figure: one person moving in the attribute plane (kgcore.analysis.plane) on the left,
the professions the model ranks highest for them on the right, animated in the browser with plotly frames
(Play and the slider run in the browser: no rerun of a dashboard page, and it works in a saved HTML file)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..colours import HELD, INK, MARK, MISSING, NEUTRAL
from .labels import callouts

FONT = dict(family="Inter, 'Source Sans Pro', sans-serif", size=13)
HEIGHT = 520
PLOT_PX = (600, 400)  # the map's approximate size in pixels at 1440 px: spacing of the labels
LABEL_PX = 17  # one label line
LABELLED = 5  # professions named on the map: the top few at the first and at the last step
FRAME_MS = 500


def _extent(values: pd.DataFrame, professions: pd.DataFrame, path: pd.DataFrame) -> tuple[float, ...]:
    xs = pd.concat([values["x"], professions["x"], path["x"]])
    ys = pd.concat([values["y"], professions["y"], path["y"]])
    return float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())


def shift_figure(path: pd.DataFrame, values: pd.DataFrame, professions: pd.DataFrame, ranking: pd.DataFrame,
                 person_label: str, held: str, target: str, colours: dict[str, str]) -> go.Figure:
    """``path``, ``values``, ``professions`` and ``ranking`` as in ``kgcore.analysis.plane.AttributePlane``;
    ``colours``: each value's colour (colours.value_colours)."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.06,
                        subplot_titles=(f"Moving {person_label} from {held} towards {target}",
                                        "Professions the model ranks highest for them"))
    x0, x1, y0, y1 = _extent(values, professions, path)
    width, height = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
    side = width * 0.36  # a column for the labels on each side
    x_range = [x0 - side - width * 0.04, x1 + side + width * 0.04]
    y_range = [y0 - height * 0.18, y1 + height * 0.12]
    gap = LABEL_PX * (y_range[1] - y_range[0]) / PLOT_PX[1]

    # Static: the values (diamonds, named below) and the professions that are ever in the top list.
    fig.add_trace(go.Scatter(
        x=values["x"], y=values["y"], mode="markers+text", name="where the model places each value",
        text=values["label"], textposition="bottom center", textfont=dict(size=14, color=INK),
        marker=dict(size=18, symbol="diamond", color=[colours.get(v, MISSING) for v in values["label"]],
                    line=dict(color="white", width=1.5)),
        hovertemplate="%{text}: where the model would place someone recorded with this value<extra></extra>"), 1, 1)
    fig.add_trace(go.Scatter(
        x=professions["x"], y=professions["y"], mode="markers", name="professions (ever in the top 10)",
        text=professions["label"], marker=dict(size=8, symbol="square", color=NEUTRAL),
        hovertemplate="%{text}<extra>profession</extra>"), 1, 1)
    first, last = ranking["step"].min(), ranking["step"].max()
    named = ranking[(ranking["step"].isin([first, last])) & (ranking["rank"] <= LABELLED)]["entity"].unique()
    shown = professions[professions["entity"].isin(named)]
    placed = callouts(list(zip(shown["label"], shown["x"], shown["y"])), (x0 + x1) / 2,
                      x0 - width * 0.04, x1 + width * 0.04, gap, y_range[0] + gap / 2, y_range[1] - gap / 2)
    for c in placed:
        fig.add_annotation(x=c.x, y=c.y, ax=c.text_x, ay=c.text_y, axref="x", ayref="y", xref="x", yref="y",
                           text=c.text, showarrow=True, arrowhead=0, arrowwidth=1, arrowcolor="#b8bec8",
                           xanchor="right" if c.side == "left" else "left", font=dict(size=11, color=INK))
    static = len(fig.data)

    steps = list(path["step"])
    start = path.iloc[0]
    positions = professions.set_index("entity")

    def dynamic(step: int) -> list[go.BaseTraceType]:
        row = path[path["step"] == step].iloc[0]
        so_far = path[path["step"] <= step]
        top = ranking[ranking["step"] == step].sort_values("rank")
        near = positions.reindex(top["entity"])
        held_now = top["held"].tolist()
        return [
            go.Scatter(x=so_far["x"], y=so_far["y"], mode="lines+markers", name="the move so far",
                       line=dict(color=colours.get(target, INK), width=3),
                       marker=dict(size=[0] * (len(so_far) - 1) + [14], symbol="arrow", angleref="previous",
                                   color=colours.get(target, INK)),
                       hoverinfo="skip"),
            go.Scatter(x=near["x"], y=near["y"], mode="markers", name="in the top 10 now",
                       marker=dict(size=12, symbol="square-open", color=INK, line=dict(width=2)),
                       text=top["label"], hovertemplate="%{text}<extra>in the top 10 now</extra>"),
            go.Scatter(x=[row["x"]], y=[row["y"]], mode="markers", name=person_label,
                       marker=dict(size=22, symbol="star", color=colours.get(held, INK), line=dict(color=INK, width=1)),
                       hovertemplate=f"{person_label} at step {step}<extra></extra>"),
            go.Bar(x=top["probability"], y=top["rank"], orientation="h", showlegend=False,
                   marker_color=[HELD if h else MARK for h in held_now],
                   text=[f"{label} · {p:.1%}" for label, p in zip(top["label"], top["probability"])],
                   textposition="outside", cliponaxis=False,
                   hovertemplate="%{text}<extra></extra>"),
        ]

    traces = dynamic(steps[0])
    for index, trace in enumerate(traces):
        fig.add_trace(trace, 1, 2 if index == len(traces) - 1 else 1)
    indices = list(range(static, static + len(traces)))
    fig.frames = [go.Frame(data=dynamic(step), traces=indices, name=str(step)) for step in steps]
    fig.add_annotation(x=start["x"], y=start["y"], text="start", showarrow=False, yshift=-18, xref="x", yref="y",
                       font=dict(size=11, color=NEUTRAL))

    fig.update_xaxes(range=x_range, showticklabels=False, showgrid=False, zeroline=False, row=1, col=1,
                     title=dict(text=f"← {held} · attribute direction · {target} →"
                                if values.set_index("label").loc[held, "x"] < 0
                                else f"← {target} · attribute direction · {held} →", font=dict(size=12)))
    fig.update_yaxes(range=y_range, showticklabels=False, showgrid=False, zeroline=False, row=1, col=1,
                     title=dict(text="towards the person's top professions →", font=dict(size=12)))
    fig.update_xaxes(range=[0, float(ranking["probability"].max()) * 2.1], tickformat=".0%", showgrid=False,
                     title=dict(text="probability the model gives", font=dict(size=12)), row=1, col=2)
    fig.update_yaxes(autorange=False, range=[10.6, 0.4], tickvals=list(range(1, 11)), title="rank", row=1, col=2)
    play = dict(frame=dict(duration=FRAME_MS, redraw=True), transition=dict(duration=0), fromcurrent=True,
                mode="immediate")
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=1.16, xanchor="left", yanchor="bottom",
                          showactive=False, pad=dict(r=8, t=0),
                          buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                                   dict(label="❚❚ Pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate",
                                                           transition=dict(duration=0))])])],
        sliders=[dict(active=0, x=0.2, y=1.16, len=0.4, xanchor="left", yanchor="bottom", pad=dict(t=0, b=0),
                      currentvalue=dict(prefix="step ", font=dict(size=12), offset=4),
                      steps=[dict(label=str(step), method="animate",
                                  args=[[str(step)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                                          transition=dict(duration=0))]) for step in steps])],
        legend=dict(orientation="h", y=-0.12, x=0, font=dict(size=11)),
        height=HEIGHT, font=FONT, template="plotly_white", margin=dict(l=10, r=40, t=110, b=40),
    )
    return fig
