"""The dashboard under Streamlit's AppTest: every page on the built-in default (the demo world) and on a small
generated knowledge graph, checked against what kgcore computes for the same runs; uploads, training, and
errors shown as messages. The library modules behind "Ask the model" and uploads have their own tests:
tests/test_whatif.py and tests/test_userdata.py."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kgcore.analysis.measure import measure_bias
from kgcore.analysis.tables import bias_table
from kgcore.analysis.plane import attribute_plane, most_swapped_person, travel_step_size
from kgcore.analysis.trajectory import person_trajectory
from kgcore.analysis.whatif import person_facts, what_if
from kgcore.data.datasets import DataSource
from kgcore.runs import load_run

from kgcore.data.userdata import make_spec, save_dataset

from .apptest_support import APP, TIMEOUT, clean, goto, metric, selected_run, train_run
from .synthetic import GENDER, PROFESSION, people_triples


# ---------------------------------------------------------------------------------------------- built-in default
@pytest.mark.slow
def test_every_page_on_the_builtin_default(runs_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    clean(at)
    graph = DataSource(dataset="demo").load()
    # Overview: the demo world's real size, labelled synthetic, its people by gender.
    assert metric(at, "Entities") == f"{graph.num_entities:,}"
    assert metric(at, "People") == f"{graph.people.numel():,}"
    assert any("Synthetic data" in i.value for i in at.info)
    counts = at.dataframe[0].value
    table = graph.attribute_table("gender")
    assert counts["gender"].tolist() == table.value_labels == ["male", "female"]
    assert counts["people"].tolist() == table.counts().tolist()
    assert at.sidebar.selectbox(key="dataset").value == "demo"

    # Professions: the page's lists are kgcore's bias_table for the selected run.
    at = goto(at, "professions")
    clean(at)
    run = selected_run(at, "prof_run")
    assert at.sidebar.multiselect(key="runs::demo").value, "the default runs are selected"
    result = measure_bias(run.model, run.graph, "gender")
    for index, value in enumerate(("male", "female")):
        expected = bias_table(result, value, top=20, min_support=10)
        shown = at.dataframe[index].value
        assert 0 < len(shown) == len(expected) <= 20
        assert shown["label"].tolist() == expected["label"].tolist()
        assert (expected[f"B_{value}"] > 0).all(), f"a most-{value} list holds only professions on {value}'s side"
        assert shown[f"C_{value}"].tolist() == expected[f"C_{value}"].tolist()
    assert int(metric(at, "Professions shown")) == int((result.frame["people"] - result.frame["C_unknown"] >= 10).sum())
    assert [b.label for b in at.get("download_button")] == ["Download all professions as CSV"]
    assert any("Base rate in this graph" in m.value for m in at.markdown)

    # Embedding shift: the default person is kgcore's most telling example, the ranking table is their
    # trajectory in the attribute plane, before and after, and the person travels from one value to the other.
    at = goto(at, "shift")
    clean(at)
    run = selected_run(at, "shift_run")
    person_key = [s.key for s in at.selectbox if s.key and s.key.startswith("shift_person_gender")][0]
    person = at.selectbox(key=person_key).value
    assert person == most_swapped_person(run.model, run.graph, "gender")
    target = at.selectbox(key="shift_target_gender").value
    gender = run.graph.attribute_table("gender")
    row = int((gender.person_ids == run.graph.entity_to_id[person]).nonzero()[0, 0])
    held = gender.value_labels[int(gender.single_label()[row])]
    assert target != held, "moved towards the value not held"
    steps = at.slider(key="shift_steps").value
    labels = list(gender.value_labels)
    size = travel_step_size(run.model, run.graph, person, "gender", labels.index(held), labels.index(target), steps)
    plane = attribute_plane(run.model, run.graph, person_trajectory(run.model, run.graph, person, "gender",
                                                                     value=target, steps=steps, step_size=size), held)
    ranking = at.dataframe[0].value
    assert len(ranking) == 10
    first = plane.ranking[plane.ranking["step"] == 0].sort_values("rank")
    last = plane.ranking[plane.ranking["step"] == plane.ranking["step"].max()].sort_values("rank")
    assert ranking["before"].tolist() == first["label"].tolist()
    assert ranking[f"after the move to {target}"].tolist() == last["label"].tolist()
    values = plane.values.set_index("label")
    assert plane.travel >= 0.99 * abs(values.loc[target, "x"] - values.loc[held, "x"])

    # Compare: one row per selected run, MRR from the run's metrics.
    at = goto(at, "compare")
    clean(at)
    table = at.dataframe[0].value
    selected = at.sidebar.multiselect(key="runs::demo").value
    assert len(table) == len(selected)
    assert len(table.columns) <= 5 and "seconds per epoch" in table
    metrics = json.loads((Path(selected[0]) / "metrics.json").read_text())
    assert table["MRR"].iloc[0] == pytest.approx(metrics["test"]["mrr"])
    assert table["leakage ROC-AUC"].between(0, 1).all()
    # Every other number is in the details table (one column per run, three decimals).
    details = at.dataframe[1].value.drop(index=["run", "bias 95% interval"]).map(float)
    # The debiasing paper's published FB15K rows, labelled as a reference (kgcore.published, gender column).
    from kgcore import published

    paper = at.dataframe[2].value.set_index("model")
    assert paper.loc["KL + Attr.", "score gap"] == published.DIFFERENCE_IN_SCORES["kl_attr"][0]
    assert paper.loc["Basic", "MRR"] == published.SPEED_AND_LINK_PREDICTION["basic"][1]
    assert any("FB15K" in e.label for e in at.expander)
    # The model's own prediction of gender: kgcore.analysis.probe.prediction_leakage of each selected run.
    from kgcore.analysis.probe import prediction_leakage

    own = [prediction_leakage(loaded.model, loaded.graph, "gender")["roc_auc"] for loaded in map(load_run, selected)]
    assert details.loc["own prediction ROC-AUC"].tolist() == pytest.approx(own, abs=5e-4)
    # What is left of gender: kgcore.analysis.residual's two measures of each selected run.
    from kgcore.analysis.residual import attribute_classifier, score_difference

    first = load_run(selected[0])
    gap = score_difference(first.model, first.graph, "gender")
    assert details.loc["score gap"].iloc[0] == pytest.approx(gap["difference"], abs=5e-4)
    assert (details.loc["score gap: shared"].iloc[0], details.loc["score gap: individual"].iloc[0]) == pytest.approx(
        (gap["shared_part"], gap["individual_part"]), abs=5e-4)
    readable = attribute_classifier(first.model, first.graph, "gender")
    assert (details.loc["classifier accuracy"].iloc[0], details.loc["always-majority rate"].iloc[0]) == pytest.approx(
        (readable["accuracy"], readable["most_frequent_rate"]), abs=5e-4)
    # The reference beside the probe: kgcore.analysis.probe.facts_probe on the same graph, as the page states it.
    from kgcore.analysis.probe import facts_probe

    facts = facts_probe(load_run(selected[0]).graph, "gender")
    assert any(f"reaches **{facts['roc_auc']:.2f}**" in m.value for m in at.markdown)
    # The hand-out: kgcore.report for the selected runs, offered as a download.
    at.button(key="compare_prepare_report").click().run()
    clean(at)
    assert "Download the hand-out (HTML)" in [b.label for b in at.get("download_button")]

    # Ask the model: the two top-10 lists are kgcore.analysis.whatif's answer for the picked person.
    at = goto(at, "ask")
    clean(at)
    person = at.selectbox(key="ask_person_gender").value
    flip = at.selectbox(key="ask_flip_gender").value
    run = load_run(selected[0])
    answer = what_if(run.model, run.graph, person_facts(run.graph, person), "gender", flip)
    side_by_side = at.dataframe[1].value  # the first model's column: both lists, rank by rank
    assert side_by_side["as recorded"].tolist() == answer.original["label"].tolist()
    assert side_by_side[f"as {flip}"].tolist() == answer.flipped["label"].tolist()
    assert metric(at, "Changed in the top 10").startswith(f"{answer.changed} of 10")

    at = goto(at, "train")
    clean(at)
    assert at.get("form"), "the training form is drawn"


def test_professions_page_on_an_attribute_with_many_values(runs_dir):
    """With more than four values (the demo world's religion), the page lists one value against all others:
    its table, the "other" counts and the least-associated professions in the chart are kgcore's bias_table."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at = goto(at, "professions")
    at.selectbox(key="prof_attr").set_value("religion").run()
    clean(at)
    run = selected_run(at, "prof_run")
    result = measure_bias(run.model, run.graph, "religion")
    assert len(result.values) > 4
    high = at.selectbox(key="prof_value").value
    most = bias_table(result, high, top=20, min_support=10)
    least = bias_table(result, high, top=20, min_support=10, least=True)
    assert least[f"B_{high}"].is_monotonic_increasing
    counts = result.frame.set_index("entity").loc[least["entity"]]  # other = recorded - this value
    assert least["C_other"].tolist() == (counts["people"] - counts["C_unknown"] - counts[f"C_{high}"]).tolist()
    shown = at.dataframe[0].value
    assert shown["label"].tolist() == most["label"].tolist()
    assert shown["C_other"].tolist() == most["C_other"].tolist()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    bars = {trace.get("name"): trace for trace in figure["data"]}
    assert {high, "other"} <= set(bars)
    assert set(bars["bias B"]["y"]) == set(most["label"]) | set(least["label"])
    # The caption says what B measured: the change of the model's raw score (kgcore's default, the paper's).
    assert not result.use_probability
    assert any("raw score" in c.value for c in at.caption)


# ---------------------------------------------------------------------------------------------- generated KG
@pytest.mark.slow
def test_every_page_on_a_generated_graph(toy_world, monkeypatch):
    monkeypatch.setenv("KGCORE_RUNS", str(toy_world["runs"]))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.sidebar.selectbox(key="dataset").set_value(toy_world["key"]).run()
    clean(at)
    graph = toy_world["graph"]
    assert metric(at, "People") == f"{graph.people.numel():,}"
    assert metric(at, "Professions") == "8"
    assert not any("Synthetic data" in i.value for i in at.info), "only the demo world is labelled synthetic"
    assert sorted(at.sidebar.multiselect(key=f"runs::{toy_world['key']}").value) == sorted(toy_world["paths"])

    at = goto(at, "professions")
    clean(at)
    run = selected_run(at, "prof_run")
    result = measure_bias(run.model, run.graph, "gender")
    male, female = at.dataframe[0].value, at.dataframe[1].value
    assert female["label"].tolist() == bias_table(result, "female", top=20, min_support=10)["label"].tolist()
    # Every profession of the toy graph has at least 10 people; each is listed on the side the model links it to
    # (on one side at most: moving towards either value may lower a profession's score, then it is on neither).
    assert len(female) + len(male) <= 8 and not set(female["label"]) & set(male["label"])
    # In the data, nurse and model are the most female professions and director the most male.
    assert dict(zip(female["label"], female["share_female"]))["nurse"] > 0.8
    assert result.frame.set_index("label").loc["director", "share_female"] < 0.2

    at = goto(at, "shift")
    clean(at)
    assert len(at.dataframe[0].value) == 8

    at = goto(at, "compare")
    clean(at)
    table = at.dataframe[0].value
    from kgcore.models import MODELS

    assert sorted(table["model"]) == sorted(entry.label for entry in MODELS.values())
    assert table["MRR"].between(0, 1).all() and table["leakage ROC-AUC"].between(0, 1).all()

    at = goto(at, "ask")
    clean(at)
    assert len([m for m in at.metric if m.label == "Changed in the top 10"]) == 3
    at.radio(key="ask_mode").set_value("Build a person").run()
    clean(at)
    # The built person starts from their gender only; flipping gives a list for every model.
    assert at.selectbox(key=f"ask_build_{GENDER}").value in ("male", "female")
    assert len(at.dataframe) == 1 + 3

    at = goto(at, "train")
    clean(at)


def test_bias_pages_say_what_a_graph_without_sensitive_attributes_lacks(tmp_path, monkeypatch):
    """An uploaded graph whose spec names a profession relation but no sensitive attribute: each page that
    measures bias stops with one message naming what is missing, and Overview and Train still work."""
    runs = tmp_path / "runs"
    source = save_dataset(runs / "datasets" / "plain", people_triples(120, seed=5), make_spec("plain", PROFESSION, {}),
                          label="Graph without attributes")
    train_run(runs / "plain" / "transe", "transe", source.load(), source)
    monkeypatch.setenv("KGCORE_RUNS", str(runs))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.sidebar.selectbox(key="dataset").set_value("dir:" + str(Path(source.data_dir).resolve())).run()
    assert not at.exception, [e.message for e in at.exception]
    for page in ("professions", "shift", "compare", "ask"):
        at = goto(at, page)
        assert not at.exception, (page, [e.message for e in at.exception])
        assert [e.value for e in at.error] == [
            "This graph's spec needs a sensitive attribute and a target relation (profession) to measure bias. "
            "Upload it again on the Train page and name them."], page
    for page in ("overview", "train"):
        at = goto(at, page)
        assert not at.exception and not at.error, page


# ---------------------------------------------------------------------------------------------- uploads and training
def test_malformed_upload_is_a_clear_error_not_a_traceback(runs_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at = goto(at, "train")
    at.get("file_uploader")[0].set_value(("broken.tsv", b"alice\tgender\tfemale\nbob gender male\n",
                                          "text/tab-separated-values"))
    at.run()
    assert not at.exception
    messages = [e.value for e in at.error]
    assert len(messages) == 1
    assert "broken.tsv, line 2" in messages[0] and "tab-separated" in messages[0]

    at.get("file_uploader")[0].set_value(("latin1.tsv", "é\tr\tt\n".encode("latin-1"), "text/plain"))
    at.run()
    assert not at.exception
    assert any("latin1.tsv, line 1" in e.value and "UTF-8" in e.value for e in at.error)


def test_broken_run_folders_are_reported_not_raised(runs_dir, toy_world):
    broken = runs_dir / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    (broken / "model.pt").write_bytes(b"")
    # A run whose weights no longer match its manifest: skipped, with the reason in the sidebar.
    mixed = runs_dir / "mixed"
    shutil.copytree(toy_world["paths"][0], mixed)
    (mixed / "model.pt").write_bytes(b"not a checkpoint")
    # A run from before manifests whose weights are damaged: listed (its config is fine), an error when used.
    damaged = runs_dir / "damaged"
    shutil.copytree(toy_world["paths"][0], damaged)
    (damaged / "manifest.json").unlink()
    (damaged / "model.pt").write_bytes(b"not a checkpoint")
    shutil.copytree(toy_world["runs"] / "datasets", runs_dir / "datasets")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("broken" in c.value and "not a readable run folder" in c.value for c in at.sidebar.caption)
    assert any("mixed" in c.value and "does not match the run's manifest" in c.value for c in at.sidebar.caption)
    at.sidebar.selectbox(key="dataset").set_value(toy_world["key"]).run()
    at = goto(at, "professions")
    assert not at.exception
    assert any("model.pt" in e.value and "corrupted" in e.value for e in at.error)

