"""kgcore.precomputed: the numbers shipped with the demo runs (``assets/demo/*/precomputed.json``) equal what
kgcore computes for the same runs now, so a change in kgcore.analysis cannot leave them stale unnoticed; and a
run folder written with them reads them back."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from kgcore.precomputed import (PRECOMPUTED_FILE, RUN_MEASURES, VOLATILE_KEYS, compute_measure, json_ready,
                                precomputed_entry, read_precomputed)

ROOT = Path(__file__).resolve().parents[1]
DEMO_RUNS = sorted(p for p in (ROOT / "assets" / "demo").glob("*") if (p / PRECOMPUTED_FILE).exists())
# Cheap enough to check for every run and attribute; the cross-validated probes and classifiers (tens of
# seconds each on two cores) are checked for gender.
CHEAP = ("aggregate_bias", "prediction_leakage", "score_difference")


def same(stored, fresh, where: str = "", abs_tol: float = 1e-12) -> None:
    """Equal up to float rounding (0.1%: far below any change of method; or ``abs_tol``), ignoring wall-clock
    times."""
    if isinstance(fresh, dict):
        assert isinstance(stored, dict), where
        keys = set(fresh) - set(VOLATILE_KEYS)
        assert keys == set(stored) - set(VOLATILE_KEYS), where
        for key in keys:
            same(stored[key], fresh[key], f"{where}.{key}", abs_tol)
    elif isinstance(fresh, list):
        assert isinstance(stored, list) and len(stored) == len(fresh), where
        for i, (a, b) in enumerate(zip(stored, fresh)):
            same(a, b, f"{where}[{i}]", abs_tol)
    elif isinstance(fresh, float) and not isinstance(stored, bool):
        assert stored is not None and (math.isclose(stored, fresh, rel_tol=1e-3, abs_tol=abs_tol)), (where, stored, fresh)
    else:
        assert stored == fresh, (where, stored, fresh)


@pytest.fixture(scope="module")
def demo_runs():
    if not DEMO_RUNS:
        pytest.skip("the demo assets carry no precomputed.json")
    from kgcore.runs import load_run

    loaded = {}
    for path in DEMO_RUNS:
        graph = next(iter(loaded.values())).graph if loaded else None
        loaded[path.name] = load_run(path, graph=graph)
    return loaded


def test_every_demo_run_carries_every_attribute(demo_runs):
    for name, run in demo_runs.items():
        data = read_precomputed(ROOT / "assets" / "demo" / name)
        assert data is not None and set(data["attributes"]) == set(run.graph.spec.attribute_names), name
        for entry in data["attributes"].values():
            assert set(entry["measures"]) == set(RUN_MEASURES) and entry["shift_person"] in run.graph.entity_to_id
            assert "facts_probe" in entry


@pytest.mark.slow
def test_shipped_cheap_measures_equal_a_fresh_computation(demo_runs):
    for name, run in demo_runs.items():
        for attribute in run.graph.spec.attribute_names:
            entry = precomputed_entry(ROOT / "assets" / "demo" / name, attribute)
            for measure in CHEAP:
                fresh = json_ready(compute_measure(measure, run.model, run.graph, attribute))
                same(entry["measures"][measure], fresh, f"{name}/{attribute}/{measure}")


@pytest.mark.slow
def test_shipped_gender_numbers_equal_a_fresh_computation(demo_runs):
    from kgcore.analysis.plane import most_swapped_person
    from kgcore.analysis.probe import facts_probe

    for name, run in demo_runs.items():
        entry = precomputed_entry(ROOT / "assets" / "demo" / name, "gender")
        for measure in ("leakage_probe", "attribute_classifier"):
            fresh = json_ready(compute_measure(measure, run.model, run.graph, "gender"))
            # Classifiers retrained on another CPU's rounding of the same vectors may each place a person or
            # two of a fold (about 540 people) otherwise: 0.01 is a few people, far below a change of method.
            same(entry["measures"][measure], fresh, f"{name}/gender/{measure}", abs_tol=0.01)
        assert entry["shift_person"] == most_swapped_person(run.model, run.graph, "gender"), name
    same(entry["facts_probe"], json_ready(facts_probe(run.graph, attribute="gender")), "facts_probe")


def test_written_with_a_run_and_read_back(tmp_path):
    from kgcore.commands.demo import demo_model_config, demo_train_config
    from kgcore.data.datasets import DataSource
    from kgcore.precomputed import write_precomputed
    from kgcore.training.pipeline import train_and_save

    source = DataSource(dataset="demo", options={"n_people": 150})
    graph = source.load()
    trained = train_and_save(tmp_path / "run", demo_model_config("transe", 8), demo_train_config(epochs=1), source,
                             graph, progress=False, splits=("test",),
                             add_files=lambda model, graph, folder: write_precomputed(model, graph, folder))
    entry = precomputed_entry(trained.path, "gender")
    assert entry is not None
    same(entry["measures"]["score_difference"],
         json_ready(compute_measure("score_difference", trained.model, graph, "gender")))
    assert precomputed_entry(trained.path, "no such attribute") is None
    # A measure this small world does not allow (too few people of a value) is left out, not stored as an error.
    assert "leakage_probe" not in precomputed_entry(trained.path, "ethnicity")["measures"]
    (trained.path / PRECOMPUTED_FILE).write_text("{not json")
    assert read_precomputed(trained.path) is None  # unreadable: the caller computes instead


def test_the_shipped_demo_overview_is_the_generated_worlds():
    """``assets/demo/graph_overview.json`` (what the Overview shows of the demo world without generating it) is
    what ``graph_overview`` gives for the world generated now, made for today's default settings; and its
    counts are the attribute tables' own."""
    import json

    from kgcore.data.datasets import DataSource
    from kgcore.data.overview import attribute_counts, graph_overview
    from kgcore.demo import GRAPH_OVERVIEW_FILE, DemoWorldConfig
    from kgcore.errors import SpecError

    stored = json.loads((ROOT / "assets" / "demo" / GRAPH_OVERVIEW_FILE).read_text())
    assert stored["world_config"] == DemoWorldConfig().to_dict()
    graph = DataSource(dataset="demo").load()
    fresh = graph_overview(graph)
    assert stored["overview"] == json.loads(json.dumps(fresh))
    assert fresh["people"] == graph.people.numel() and fresh["train_triples"] == graph.splits["train"].shape[0]
    for attribute in graph.spec.attribute_names:
        table = graph.attribute_table(attribute)
        values, people, missing = attribute_counts(fresh, attribute)
        assert values == list(table.value_labels) and people == table.counts().tolist()
        assert missing == int((table.membership.sum(1) == 0).sum()) > 0
        assert people == sorted(people, reverse=True)
    with pytest.raises(SpecError, match="no sensitive attribute 'height'.*gender"):
        attribute_counts(fresh, "height")
