"""Cached calls into kgcore: every number the pages show comes from here, computed once per run folder
(its path and modification time are part of each cache key) and settings."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from discovery import RunInfo
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


# Per-run, per-attribute measurements kept on disk: name -> (kgcore module, function, what the spinner says).
RUN_MEASURES = {
    "aggregate_bias": ("kgcore.analysis.aggregate", "aggregate_bias", "Summarising bias (with a bootstrap interval)…"),
    "leakage_probe": ("kgcore.analysis.probe", "leakage_probe", "Running the leakage probe…"),
    "prediction_leakage": ("kgcore.analysis.probe", "prediction_leakage",
                           "Reading the model's own prediction of the attribute…"),
    "score_difference": ("kgcore.analysis.residual", "score_difference",
                         "Comparing the scores of true and other values…"),
    "attribute_classifier": ("kgcore.analysis.residual", "attribute_classifier",
                             "Training a classifier to read the attribute…"),
}


def run_measure(name: str, run: RunInfo, attribute: str) -> dict[str, Any]:
    """``kgcore`` function ``name`` of ``RUN_MEASURES`` on the run's model and graph for ``attribute``, computed
    once per run, attribute and kgcore version (kept on disk)."""
    if name not in RUN_MEASURES:
        raise KeyError(f"No run measure {name!r}; there are: {', '.join(RUN_MEASURES)}.")
    with st.spinner(RUN_MEASURES[name][2], show_time=False):
        return _run_measure(name, run, attribute, science())


@st.cache_data(show_spinner=False, max_entries=320, persist="disk")
def _run_measure(name: str, run: RunInfo, attribute: str, code: str) -> dict[str, Any]:
    import importlib

    module, function, _ = RUN_MEASURES[name]
    loaded = load_run(run)
    return getattr(importlib.import_module(module), function)(loaded.model, loaded.graph, attribute=attribute)


@st.cache_data(show_spinner="Evaluating link prediction…", max_entries=64)
def link_prediction(run: RunInfo) -> dict[str, Any]:
    """Filtered test metrics: from the run's metrics.json when it has them, computed otherwise."""
    loaded = load_run(run)
    test = (loaded.metrics or {}).get("test")
    if isinstance(test, dict) and "mrr" in test:
        return test
    from kgcore.training.evaluate import evaluate

    if loaded.graph.splits["test"].shape[0] == 0:
        return {}
    return evaluate(loaded.model, loaded.graph, "test")


def run_metrics(run: RunInfo) -> dict[str, Any]:
    return dict(load_run(run).metrics or {})


def shift_person(run: RunInfo, attribute: str) -> str | None:
    """kgcore.analysis.plane.most_swapped_person: the person whose top professions change most when moved
    to the other value (the shift page's first example), computed once per run (kept on disk)."""
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
    return _attribute_counts(data_json, attribute, data_fingerprint(data_json))


# Kept on disk: the Overview's first chart then needs no graph (and no torch) on later starts.
@st.cache_data(show_spinner=False, max_entries=64, persist="disk")
def _attribute_counts(data_json: str, attribute: str, fingerprint: str) -> tuple[list[str], list[int], int]:
    graph = load_graph(data_json)
    table = graph.attribute_table(attribute)
    missing = int((~table.membership.any(1)).sum())
    return list(table.value_labels), [int(n) for n in table.counts().tolist()], missing


def facts_probe(data_json: str, attribute: str) -> dict[str, Any]:
    """kgcore.analysis.probe.facts_probe: how well the graph's other facts about a person reveal the attribute."""
    return _facts_probe(data_json, attribute, data_fingerprint(data_json), science())


@st.cache_data(show_spinner="Probing the graph's other facts…", max_entries=64, persist="disk")
def _facts_probe(data_json: str, attribute: str, fingerprint: str, code: str) -> dict[str, Any]:
    from kgcore.analysis.probe import facts_probe as kg_facts_probe

    return kg_facts_probe(load_graph(data_json), attribute=attribute)


def graph_summary(data_json: str) -> dict[str, Any]:
    """Sizes of a graph and the names in its spec."""
    return _graph_summary(data_json, data_fingerprint(data_json))


@st.cache_data(show_spinner=False, max_entries=64, persist="disk")
def _graph_summary(data_json: str, fingerprint: str) -> dict[str, Any]:
    graph = load_graph(data_json)
    summary = dict(graph.summary())
    summary["people"] = int(graph.people.numel())
    summary["professions"] = int(graph.target_table.num_values) if graph.spec.target else 0
    summary["attributes"] = list(graph.spec.attribute_names)
    summary["target"] = graph.spec.target
    summary["target_name"] = graph.spec.target_name
    return summary


@st.cache_data(show_spinner="Writing the hand-out…", max_entries=8)
def hand_out(runs: tuple[RunInfo, ...], attribute: str) -> bytes:
    """kgcore.report.report_html for the selected runs: one offline HTML file."""
    from kgcore.report import report_html

    return report_html([load_run(run) for run in runs], attribute=attribute).encode("utf-8")
