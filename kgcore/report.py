"""A hand-out: one self-contained HTML file about one or more trained runs, for people who will not run
the dashboard. It holds the comparison table, the professions each model links most with every value of an
attribute (top lists with the graph's counts), and the embedding shift of one person as an animated
figure. The plotly library is embedded, so the file works offline.

Everything is computed by kgcore.analysis and drawn with kgcore.figures and kgcore.colours, the same as in
the dashboard; numbers are what the models associate in the graph they read, never what any group is.
"""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Sequence

import pandas as pd

from .analysis.measure import DEFAULT_MIN_SUPPORT, BiasResult, measure_bias
from .analysis.people import unique_value_labels
from .analysis.plane import attribute_plane, most_swapped_person, travel_step_size
from .analysis.tables import bias_table, count_columns
from .analysis.trajectory import person_trajectory
from .colours import run_colours, swatch, value_colours
from .errors import KGError
from .figures.shift import shift_figure
from .runs import Run

SHIFT_STEPS = 20
MAX_LISTED_VALUES = 4  # top lists for the most common values only, when an attribute has many

STYLE = """
body { font-family: Inter, 'Source Sans Pro', Arial, sans-serif; color: #2e3440; max-width: 1180px;
       margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #e5e9f0; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0 1rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e5e9f0; text-align: right; }
th { text-align: left; vertical-align: bottom; }
th:first-child, td:first-child, td.text { text-align: left; }
.lists { display: flex; gap: 2rem; flex-wrap: wrap; } .lists > div { flex: 1 1 420px; }
.note { color: #5e6b7d; font-size: 0.9rem; }
"""


def _model_facts(model: str) -> tuple[str, str]:
    from .models import MODELS

    entry = MODELS.get(model)
    return (entry.label, entry.colour) if entry else (model, "#2e3440")


def _table(frame: pd.DataFrame, formats: dict[str, str] | None = None, markup: Sequence[str] = ()) -> str:
    """An HTML table; ``formats``: format strings per numeric column; ``markup``: columns that hold HTML."""
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column in frame.columns:
            value = row[column]
            if isinstance(value, float) and value != value:
                text = "—"
            elif column in formats and isinstance(value, (int, float)):
                text = formats[column].format(value)
            else:
                text = str(value) if column in markup else html.escape(str(value))
            cls = ' class="text"' if isinstance(value, str) else ""
            cells.append(f"<td{cls}>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def comparison(runs: Sequence[Run], results: Sequence[BiasResult], colours: dict[str, str]) -> pd.DataFrame:
    """One row per run: model, run, link prediction (MRR, Hits@10 on the test triples, from the run's
    metrics), the mean |B| over measured values and professions, and seconds per training epoch."""
    rows = []
    for run, result in zip(runs, results):
        label, _ = _model_facts(run.model_config.model)
        test = (run.metrics or {}).get("test") or {}
        b = result.frame[[f"B_{v}" for v in result.measured]].abs().to_numpy()
        rows.append({"model": swatch(colours[str(run.path)], html.escape(label)), "run": run.name,
                     "fills in missing facts (MRR)": test.get("mrr", float("nan")),
                     "Hits@10": test.get("hits@10", float("nan")),
                     f"links jobs with {result.attribute} (mean |B|)": float(b.mean()) if b.size else float("nan"),
                     "seconds per epoch": (run.metrics or {}).get("seconds_per_epoch", float("nan")),
                     "epochs": len(run.history) if len(run.history) else run.train_config.epochs})
    return pd.DataFrame(rows)


def top_lists(result: BiasResult, top: int, min_support: int) -> str:
    """HTML of the ``top`` professions the model links most with each (common) value, with the counts."""
    parts = []
    for value in result.measured[:MAX_LISTED_VALUES]:
        table = bias_table(result, value, top=top, min_support=min_support)
        shown = table[["label", f"B_{value}", *count_columns(result, value), f"share_{value}"]].rename(
            columns={"label": "profession", f"B_{value}": "link (B)", f"share_{value}": f"% {value} in the graph",
                     **{c: f"people: {c.removeprefix('C_')}" for c in count_columns(result, value)}})
        shown.insert(0, "#", range(1, len(shown) + 1))
        body = (_table(shown, {"link (B)": "{:.3g}", f"% {value} in the graph": "{:.0%}"}) if len(shown)
                else f"<p class='note'>No profession with at least {min_support} people is on the {value} side.</p>")
        short = (f"<p class='note'>Only {len(shown)} professions with at least {min_support} people are on the "
                 f"{html.escape(value)} side.</p>" if 0 < len(shown) < top else "")
        parts.append(f"<div><h3>Most {html.escape(value)}-associated</h3>{short}{body}</div>")
    return "<div class='lists'>" + "".join(parts) + "</div>"


def base_rate(run: Run, attribute: str) -> str:
    """The share of people recorded with each value (the base rate beside the lists)."""
    table = run.graph.attribute_table(attribute)
    counts = table.counts().tolist()
    total = max(sum(counts), 1)
    pairs = list(zip(unique_value_labels(table, run.graph), counts))[:8]
    return ("Base rate in this graph: " + " · ".join(f"{html.escape(v)} {n / total:.0%}" for v, n in pairs)
            + f" of the {total:,} people with a recorded {html.escape(attribute)}.")


def shift_section(run: Run, attribute: str, person: str | None, steps: int = SHIFT_STEPS) -> str:
    """The embedding shift of ``person`` (default: the one whose top professions change most) in ``run``,
    as an animated figure with the plotly library embedded."""
    graph, model = run.graph, run.model
    table = graph.attribute_table(attribute)
    labels = unique_value_labels(table, graph)
    person = person or most_swapped_person(model, graph, attribute, steps=steps)
    if person is None:
        return "<p class='note'>No person with a recorded value to move.</p>"
    from .analysis.people import resolve_person

    pid = resolve_person(graph, person)
    rows = (table.person_ids == pid).nonzero()
    if rows.numel() == 0 or int(table.single_label()[int(rows[0, 0])]) < 0:
        raise KGError(f"{graph.label(pid)} has no recorded {attribute}; choose a person who has one.")
    held = labels[int(table.single_label()[int(rows[0, 0])])]
    target = next(v for v in labels if v != held)
    size = travel_step_size(model, graph, pid, attribute, labels.index(held), labels.index(target), steps)
    trajectory = person_trajectory(model, graph, pid, attribute, target, steps=steps, step_size=size)
    plane = attribute_plane(model, graph, trajectory, held)
    figure = shift_figure(plane.path, plane.values, plane.professions, plane.ranking, graph.label(pid), held, target,
                          value_colours(labels))
    label, _ = _model_facts(run.model_config.model)
    return (f"<p>{html.escape(graph.label(pid))} is recorded as <i>{html.escape(held)}</i>. Model: "
            f"{html.escape(label)} ({html.escape(run.name)}). Press ▶ Play: the model's picture of this person moves "
            f"step by step towards <i>{html.escape(target)}</i>, and the bars show the jobs it suggests at each "
            "step (red: jobs they hold in the graph).</p>"
            + figure.to_html(full_html=False, include_plotlyjs=True, auto_play=False))


def sweep_section(folder: str | Path, include_plotlyjs: bool = True) -> str:
    """A sweep's figures (the debiasing paper's Figures 3-4) and Table 1 per attribute whose KL weight it
    varies, then its summary of every run (``kgcore.sweep``)."""
    from .figures.sweep import sweep_figure
    from .sweep import load_summary, read_plan, sweep_points, weight_column

    folder = Path(folder)
    plan, summary = read_plan(folder), load_summary(folder)
    parts = [f"<h2>Sweep {html.escape(folder.name)}</h2>",
             f"<p>{len(summary)} runs, varying " + ", ".join(html.escape(k) for k in plan.get("grid", {}))
             + ". Each point is the mean over the runs of one weight (seeds), the bars their standard deviation; "
             "the dashed line is the most-frequent rate, the classifier's accuracy when nothing is left.</p>"]
    for attribute in plan.get("attributes", []):
        if not weight_column(summary, attribute):
            continue
        points = sweep_points(summary, attribute)
        parts.append(sweep_figure(points, attribute).to_html(full_html=False, include_plotlyjs=include_plotlyjs))
        include_plotlyjs = False
        parts.append(_table(points.rename(columns={"x": f"w_KL ({attribute})"}),
                            {c: "{:.4f}" for c in points.columns if c not in ("x", "runs")}))
    shown = [c for c in summary.columns if c not in ("error",) and not summary[c].isna().all()]
    parts.append(_table(summary[shown], {c: "{:.4f}" for c in shown if summary[c].dtype.kind == "f"}))
    return "\n".join(parts)


def report_html(runs: Sequence[Run], attribute: str = "gender", person: str | None = None, top: int = 20,
                min_support: int = DEFAULT_MIN_SUPPORT, sweep: str | Path | None = None) -> str:
    """The whole hand-out as one HTML document (see the module docstring); ``sweep``: a sweep folder whose
    figures are added (alone when no run is given)."""
    if not runs and sweep is None:
        raise KGError("Give at least one run folder or a sweep folder for the report.")
    if not runs:
        return _document("sweep", ["<h1>What is left against the KL weight</h1>", sweep_section(sweep)])
    graph = runs[0].graph
    if attribute not in graph.spec.attribute_names:
        raise KGError(f"{attribute!r} is not an attribute of {graph.name}; its attributes: "
                      f"{', '.join(graph.spec.attribute_names) or 'none'}.")
    results = [measure_bias(run.model, run.graph, attribute=attribute) for run in runs]
    colours = run_colours([(str(run.path), run.model_config.model, _model_facts(run.model_config.model)[1])
                           for run in runs])
    compare = comparison(runs, results, colours)
    sections = [
        f"<h1>What these models link with {html.escape(attribute)}</h1>",
        f"<p>A model that learns from a database of facts about people also picks up who, in that database, "
        f"holds which job. This hand-out shows which jobs {len(runs)} trained model(s) link with each recorded "
        f"{html.escape(attribute)}, in the graph <b>{html.escape(graph.name)}</b>.</p>",
        ("<p class='note'>Gender is recorded as binary in these data; the numbers describe what the models "
         "associate with the records, not what anyone is.</p>" if attribute == "gender" else
         "<p class='note'>The numbers describe what the models associate with the records, not what anyone "
         "is.</p>"),
        "<h2>The models side by side</h2>",
        _table(compare, {"fills in missing facts (MRR)": "{:.3f}", "Hits@10": "{:.3f}", "seconds per epoch": "{:.2f}",
                         f"links jobs with {attribute} (mean |B|)": "{:.3g}"}, markup=("model",)),
        "<p class='note'>MRR: mean reciprocal rank of the true answer on held-out facts (higher is better). B: the "
        "mean change of a profession's score when a person's vector is nudged towards a value (Fisher et al., "
        "2020); mean |B| without a confidence interval here.</p>",
        "<h2>Embedding shift</h2>", shift_section(runs[0], attribute, person),
        f"<h2>Jobs each model links with a {html.escape(attribute)}</h2>",
        f"<p>{base_rate(runs[0], attribute)} A profession's % is read against it. Professions with at least "
        f"{min_support} people; a list holds only professions on its value's side.</p>",
    ]
    for run, result in zip(runs, results):
        label, _ = _model_facts(run.model_config.model)
        sections.append(f"<h3>{swatch(colours[str(run.path)], html.escape(label))} · {html.escape(run.name)}</h3>")
        sections.append(top_lists(result, top, min_support))
    if sweep is not None:
        sections.append(sweep_section(sweep, include_plotlyjs=False))  # the shift figure brought plotly
    return _document(attribute, sections)


def _document(title: str, sections: list[str]) -> str:
    sections = [*sections, f"<p class='note'>Written by kgcore on {time.strftime('%Y-%m-%d %H:%M')}.</p>"]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>kgcore report: {html.escape(title)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(sections) + "</body></html>")


def write_report(runs: Sequence[Run], out: str | Path, **options) -> Path:
    """``report_html`` written to ``out`` (UTF-8)."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(runs, **options), encoding="utf-8")
    return path


__all__ = ["report_html", "write_report", "comparison", "top_lists", "base_rate", "shift_section", "sweep_section"]
