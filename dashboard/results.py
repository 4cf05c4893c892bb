"""Cached calls into kgcore: every number the pages show comes from here, computed once per run folder
(its path and modification time are part of each cache key) and settings."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from discovery import RunInfo, shipped_overview
from loaders import code_fingerprint, data_fingerprint, load_graph, load_run

# The code a measurement depends on: results kept on disk are keyed by it, so an updated kgcore never serves
# numbers computed by the old one (the run's own files are covered by RunInfo.mtime).
SCIENCE_MODULES = ("kgcore.analysis", "kgcore.models", "kgcore.training", "kgcore.data")


def science() -> str:
    return code_fingerprint(*SCIENCE_MODULES)

if TYPE_CHECKING:  # pandas is imported lazily: the Overview's first chart does not need it
    import pandas as pd


def bias_result(run: RunInfo, attribute: str):
    """kgcore.analysis.measure_bias for every value of the attribute (Fisher et al.'s B_p^v)."""
    return _bias_result(run, attribute, science())


# Kept on disk (like the two below): a measurement of a run is computed once per machine.
@st.cache_data(show_spinner="Measuring bias…", max_entries=64, persist="disk")
def _bias_result(run: RunInfo, attribute: str, code: str):
    from kgcore.analysis.measure import measure_bias

    loaded = load_run(run)
    return measure_bias(loaded.model, loaded.graph, attribute=attribute)


@st.cache_data(show_spinner=False, max_entries=64)
def bias_table(run: RunInfo, attribute: str, value: str, top: int, min_support: int,
               least: bool = False) -> pd.DataFrame:
    """kgcore.analysis.tables.bias_table: the professions most (``least``: least) associated with ``value``."""
    from kgcore.analysis.tables import bias_table as kg_bias_table

    return kg_bias_table(bias_result(run, attribute), value, top=top, min_support=min_support, least=least)


@st.cache_data(show_spinner=False, max_entries=64)
def data_vs_model(run: RunInfo, attribute: str, value: str, min_support: int) -> tuple[pd.DataFrame, dict]:
    from kgcore.analysis.tables import data_vs_model as kg_data_vs_model

    return kg_data_vs_model(bias_result(run, attribute), value, min_support=min_support)


# What the spinner says while a run measure (kgcore.precomputed.RUN_MEASURES) is computed.
MEASURE_SPINNERS = {
    "aggregate_bias": "Summarising bias (with a bootstrap interval)…",
    "leakage_probe": "Running the leakage probe…",
    "prediction_leakage": "Reading the model's own prediction of the attribute…",
    "score_difference": "Comparing the scores of true and other values…",
    "attribute_classifier": "Training a classifier to read the attribute…",
}


def precomputed(run: RunInfo, attribute: str) -> dict[str, Any]:
    """kgcore.precomputed.precomputed_entry: what was computed for the run when it was written (the demo
    assets carry it), or an empty dict."""
    return _precomputed(run.path, run.mtime, attribute)


@st.cache_data(show_spinner=False, max_entries=128)
def _precomputed(path: str, mtime: float, attribute: str) -> dict[str, Any]:
    from kgcore.precomputed import precomputed_entry  # torch-free

    return precomputed_entry(path, attribute) or {}


def run_measure(name: str, run: RunInfo, attribute: str) -> dict[str, Any]:
    """``kgcore`` function ``name`` of ``kgcore.precomputed.RUN_MEASURES`` on the run's model and graph for
    ``attribute``: read from the run's precomputed results when it has them, otherwise computed once per run,
    attribute and kgcore version (kept on disk)."""
    if name not in MEASURE_SPINNERS:
        raise KeyError(f"No run measure {name!r}; there are: {', '.join(MEASURE_SPINNERS)}.")
    stored = precomputed(run, attribute).get("measures", {}).get(name)
    if stored is not None:
        return stored
    with st.spinner(MEASURE_SPINNERS[name], show_time=False):
        return _run_measure(name, run, attribute, science())


@st.cache_data(show_spinner=False, max_entries=320, persist="disk")
def _run_measure(name: str, run: RunInfo, attribute: str, code: str) -> dict[str, Any]:
    from kgcore.precomputed import compute_measure

    loaded = load_run(run)
    return compute_measure(name, loaded.model, loaded.graph, attribute)


@st.cache_data(show_spinner="Evaluating link prediction…", max_entries=64)
def link_prediction(run: RunInfo) -> dict[str, Any]:
    """Filtered test metrics: from the run's metrics.json when it has them (read without loading the model),
    computed otherwise."""
    test = run_metrics(run).get("test")
    if isinstance(test, dict) and "mrr" in test:
        return test
    loaded = load_run(run)
    from kgcore.training.evaluate import evaluate

    if loaded.graph.splits["test"].shape[0] == 0:
        return {}
    return evaluate(loaded.model, loaded.graph, "test")


def run_metrics(run: RunInfo) -> dict[str, Any]:
    """The run's metrics.json (an empty dict when it has none)."""
    return dict(_run_metrics(run.path, run.mtime))


@st.cache_data(show_spinner=False, max_entries=64)
def _run_metrics(path: str, mtime: float) -> dict[str, Any]:
    import json
    from pathlib import Path

    try:
        metrics = json.loads((Path(path) / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def shift_person(run: RunInfo, attribute: str) -> str | None:
    """kgcore.analysis.plane.most_swapped_person: the person whose top professions change most when moved
    to the other value (the shift page's first example): precomputed with the run, or computed once per run
    (kept on disk)."""
    stored = precomputed(run, attribute)
    if "shift_person" in stored:
        return stored["shift_person"]
    return _shift_person(run, attribute, science())


@st.cache_data(show_spinner="Finding a telling example person…", max_entries=64, persist="disk")
def _shift_person(run: RunInfo, attribute: str, code: str) -> str | None:
    from kgcore.analysis.plane import most_swapped_person

    loaded = load_run(run)
    return most_swapped_person(loaded.model, loaded.graph, attribute)


@st.cache_data(show_spinner="Moving the person step by step…", max_entries=64)
def shift_plane(run: RunInfo, person: str, attribute: str, held: str, value: str, steps: int):
    """The person's trajectory from ``held`` to ``value`` with kgcore.analysis.plane's step size, placed in
    the attribute plane: (AttributePlane, step size)."""
    from kgcore.analysis.people import unique_value_labels
    from kgcore.analysis.plane import attribute_plane, travel_step_size
    from kgcore.analysis.trajectory import person_trajectory

    loaded = load_run(run)
    labels = unique_value_labels(loaded.graph.attribute_table(attribute), loaded.graph)
    size = travel_step_size(loaded.model, loaded.graph, person, attribute, labels.index(held), labels.index(value),
                            steps)
    moved = person_trajectory(loaded.model, loaded.graph, person, attribute=attribute, value=value, steps=steps,
                              step_size=size)
    return attribute_plane(loaded.model, loaded.graph, moved, held), size


@st.cache_resource(show_spinner=False, max_entries=32)
def shift_chart(run: RunInfo, person: str, attribute: str, held: str, value: str, steps: int, label: str,
                colours: tuple[tuple[str, str], ...]):
    """kgcore.figures.shift.shift_figure of ``shift_plane``'s move, built once per choice: plotly validates
    every frame's traces while a figure is built, which a page switch should not wait for again. Shared, not
    copied: pages draw it and never change it."""
    from kgcore.figures.shift import shift_figure

    plane, _ = shift_plane(run, person, attribute, held, value, steps)
    return shift_figure(plane.path, plane.values, plane.professions, plane.ranking, label, held, value, dict(colours))


@st.cache_data(show_spinner="Asking the model…", max_entries=128)
def what_if(run: RunInfo, facts: tuple[tuple[str, str, str], ...], attribute: str, value: str, top: int = 10):
    from kgcore.analysis.whatif import what_if as kg_what_if

    loaded = load_run(run)
    return kg_what_if(loaded.model, loaded.graph, list(facts), attribute, value, top=top)


@st.cache_data(show_spinner=False, max_entries=16)
def person_relations(data_json: str) -> dict[str, list[tuple[str, int]]]:
    from kgcore.analysis.whatif import person_relations as kg_person_relations

    return kg_person_relations(load_graph(data_json))


@st.cache_data(show_spinner=False, max_entries=16)
def people_index(data_json: str) -> pd.DataFrame:
    """Every person with their label, attribute values and professions (for pickers)."""
    import pandas as pd

    graph = load_graph(data_json)
    people = graph.people.tolist()
    frame = pd.DataFrame({"id": people, "entity": [graph.entities[p] for p in people],
                          "label": [graph.label(p) for p in people]})
    for name in graph.spec.attribute_names:
        table = graph.attribute_table(name)
        first = table.single_label().tolist()
        frame[name] = [table.value_labels[i] if i >= 0 else "" for i in first]
    if graph.spec.target:
        target = graph.target_table
        members = target.membership
        frame["professions"] = [", ".join(target.value_labels[j] for j in row.nonzero().flatten().tolist())
                                for row in members]
    # Labels can repeat (two people called the same): the picker shows the entity id too then.
    repeated = frame["label"].duplicated(keep=False)
    frame["display"] = frame["label"].where(~repeated, frame["label"] + " (" + frame["entity"] + ")")
    return frame


def attribute_counts(data_json: str, attribute: str) -> tuple[list[str], list[int], int]:
    """People per value of an attribute, most common first, and how many people have none recorded."""
    from kgcore.data.overview import attribute_counts as counts_of

    return counts_of(graph_summary(data_json), attribute)


def facts_probe(data_json: str, attribute: str, runs: tuple[RunInfo, ...] = ()) -> dict[str, Any]:
    """kgcore.analysis.probe.facts_probe: how well the graph's other facts about a person reveal the attribute;
    read from the precomputed results of any of ``runs`` trained on this graph when one has them."""
    for run in runs:
        stored = precomputed(run, attribute).get("facts_probe") if run.data_json == data_json else None
        if stored is not None:
            return stored
    return _facts_probe(data_json, attribute, data_fingerprint(data_json), science())


@st.cache_data(show_spinner="Probing the graph's other facts…", max_entries=64, persist="disk")
def _facts_probe(data_json: str, attribute: str, fingerprint: str, code: str) -> dict[str, Any]:
    from kgcore.analysis.probe import facts_probe as kg_facts_probe

    return kg_facts_probe(load_graph(data_json), attribute=attribute)


def graph_summary(data_json: str) -> dict[str, Any]:
    """kgcore.data.overview.graph_overview of a graph: sizes, the names in its spec, people per value of each
    attribute. The demo world's is shipped with its pretrained runs; any other graph's is kept on disk, so the
    Overview's first chart needs no graph (and no torch) on later starts."""
    return shipped_overview(data_json) or _graph_summary(data_json, data_fingerprint(data_json))


@st.cache_data(show_spinner=False, max_entries=64, persist="disk")
def _graph_summary(data_json: str, fingerprint: str) -> dict[str, Any]:
    from kgcore.data.overview import graph_overview

    return graph_overview(load_graph(data_json))


@st.cache_data(show_spinner="Writing the hand-out…", max_entries=8)
def hand_out(runs: tuple[RunInfo, ...], attribute: str) -> bytes:
    """kgcore.report.report_html for the selected runs: one offline HTML file."""
    from kgcore.report import report_html

    return report_html([load_run(run) for run in runs], attribute=attribute).encode("utf-8")
