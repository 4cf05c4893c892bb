"""Bias measurement on graphs where the answer is known: professions built all-female, all-male or balanced,
a real short TransE training, and the checks of the perturbation's maths (gradient, step, response)."""
from __future__ import annotations

import copy
import json
import time
from io import StringIO

import numpy as np
import pandas as pd
import pytest
import torch

from kgcore.analysis.aggregate import aggregate_bias
from kgcore.analysis.measure import attribute_gradient, attribute_objective, attribute_scores, measure_bias, perturb
from kgcore.analysis.tables import bias_table, data_vs_model
from kgcore.analysis.trajectory import person_trajectory
from kgcore.cli import main
from kgcore.data.datasets import DataSource
from kgcore.errors import KGError, SpecError
from kgcore.data.graph import KnowledgeGraph
from kgcore.analysis.probe import facts_probe, leakage_probe
from kgcore.data.spec import Attribute, DatasetSpec
from kgcore.training.loop import training_triples

from .factories import fit, trained_model, untrained_model
from .synthetic import (GENDER, GROUP, PROFESSION, SKEWED_PROFESSIONS, group_triples, people_triples,
                        split_triples, write_graph)

FEMALE_ONLY = ("midwife", "nanny")
BALANCED = ("teacher", "writer")
MALE_ONLY = ("lumberjack", "bishop")
GROUP_OF = {"midwife": "group_a", "nanny": "group_a", "teacher": "group_b", "writer": "group_b",
            "lumberjack": "group_c", "bishop": "group_c"}
SPEC = DatasetSpec(name="toy-bias", attributes=(Attribute("gender", GENDER), Attribute("group", GROUP, reversed=True)),
                   target=PROFESSION)


@pytest.fixture(scope="module")
def skewed_dir(tmp_path_factory):
    triples = people_triples(600, seed=1, professions=SKEWED_PROFESSIONS)
    triples += group_triples(600, GROUP_OF, seed=1)
    return write_graph(tmp_path_factory.mktemp("skewed"), split_triples(triples, seed=0))


@pytest.fixture(scope="module")
def skewed_fit(skewed_dir):
    """TransE (L1, dim 32, 30 epochs, lr 0.02) trained on the skewed graph."""
    return fit(KnowledgeGraph.from_folder(skewed_dir, spec=SPEC), interaction="transe-l1")


@pytest.fixture(scope="module")
def skewed(skewed_fit):
    return skewed_fit.graph, skewed_fit.model, skewed_fit.result


def _b(result, label: str, value: str) -> float:
    frame = result.frame.set_index("label")
    return float(frame.loc[label, f"B_{value}"])


# ---------------------------------------------------------------------------------------------- sign, ranking
@pytest.mark.parametrize("use_probability", [False, True])
def test_sign_and_ranking_follow_the_constructed_skew(skewed, use_probability):
    graph, model, _ = skewed
    # An L1 distance is not linear: the step must stay small for the first-order response (the paper's
    # alpha = 0.01 is for its dot-product score, whose response is linear in alpha).
    result = measure_bias(model, graph, "gender", use_probability=use_probability, step_size=1e-3)
    assert result.measured == ["male", "female"] or result.measured == ["female", "male"]
    for label in FEMALE_ONLY:
        assert _b(result, label, "female") > 0 > _b(result, label, "male")
    for label in MALE_ONLY:
        assert _b(result, label, "male") > 0 > _b(result, label, "female")
    # Ranking: every all-female profession above every balanced one, above every all-male one.
    female = {label: _b(result, label, "female") for label in SKEWED_PROFESSIONS}
    assert min(female[p] for p in FEMALE_ONLY) > max(female[p] for p in BALANCED)
    assert min(female[p] for p in BALANCED) > max(female[p] for p in MALE_ONLY)
    # Balanced professions sit nearer zero than the skewed ones.
    assert max(abs(female[p]) for p in BALANCED) < min(abs(female[p]) for p in FEMALE_ONLY + MALE_ONLY)


def test_tables_list_the_most_associated_professions_with_training_counts(skewed):
    graph, model, _ = skewed
    result = measure_bias(model, graph, "gender")
    female = bias_table(result, "female", top=2, min_support=1)
    male = bias_table(result, "male", top=2, min_support=1)
    assert set(female["label"]) == set(FEMALE_ONLY)
    assert set(male["label"]) == set(MALE_ONLY)
    assert list(female.index) == [1, 2]
    assert female["B_female"].is_monotonic_decreasing
    # Counts are the training graph's, recomputed here from the raw triples.
    train = [(graph.entities[h], graph.relations[r], graph.entities[t]) for h, r, t in graph.splits["train"].tolist()]
    gender_of = {h: t for h, r, t in train if r == GENDER}
    for _, row in female.iterrows():
        holders = [h for h, r, t in train if r == PROFESSION and t == row["entity"]]
        assert row["people"] == len(holders)
        assert row["C_female"] == sum(gender_of.get(h) == "female" for h in holders)
        assert row["C_male"] == sum(gender_of.get(h) == "male" for h in holders)
        assert row["C_male"] == 0 and row["share_female"] == 1.0
    # The support filter drops professions below it; an unknown value is a clear error.
    assert bias_table(result, "female", min_support=10_000).empty
    with pytest.raises(Exception, match="no value 'nonbinary'"):
        bias_table(result, "nonbinary")


def test_data_share_and_model_bias_correlate(skewed):
    graph, model, _ = skewed
    result = measure_bias(model, graph, "gender")
    frame, stats = data_vs_model(result, "female")
    assert stats["professions"] == len(SKEWED_PROFESSIONS)
    assert stats["pearson"] > 0.8 and stats["spearman"] > 0.7
    assert set(frame.columns) >= {"label", "share_female", "B_female"}
    assert 0.3 < stats["overall_share"] < 0.7


# ---------------------------------------------------------------------------------------------- the maths
def test_gradient_matches_finite_differences_and_the_analytic_transe_gradient(skewed):
    graph, model, _ = skewed
    model64 = copy.deepcopy(model).double()
    table = graph.attribute_table("gender")
    people = table.person_ids[table.membership.any(1)][:5]
    base = model64.entity.weight[people].detach().clone()
    female = table.value_labels.index("female")
    objective, grad = attribute_gradient(model64, base, people, table, female)
    eps = 1e-6
    for d in range(base.shape[1]):
        shift = torch.zeros_like(base)
        shift[:, d] = eps
        with torch.no_grad():
            up = attribute_objective(attribute_scores(model64, base + shift, people, table), female)
            down = attribute_objective(attribute_scores(model64, base - shift, people, table), female)
        torch.testing.assert_close(grad[:, d], (up - down) / (2 * eps), atol=1e-6, rtol=1e-6)
    # TransE L1: d/dh [-|h + r - f|_1 + |h + r - m|_1] = -sign(h + r - f) + sign(h + r - m).
    weights = model64.entity.weight
    query = base + model64.relation.weight[table.relation_id]
    f_vec, m_vec = weights[table.value_ids[female]], weights[table.value_ids[1 - female]]
    torch.testing.assert_close(grad, -torch.sign(query - f_vec) + torch.sign(query - m_vec))
    torch.testing.assert_close(objective, -(query - f_vec).abs().sum(1) + (query - m_vec).abs().sum(1))
    # One step of perturb is exactly base + alpha * gradient.
    moved, _ = perturb(model64, base, people, table, female, steps=1, step_size=0.01)
    torch.testing.assert_close(moved, base + 0.01 * grad)


def test_bias_score_is_the_mean_change_of_the_profession_score(skewed):
    """B_p recomputed independently from the raw weights: mean over people of
    -|h' + r_p - p|_1 + |h + r_p - p|_1 with h' = h + alpha * gradient."""
    graph, model, _ = skewed
    alpha = 1e-3
    result = measure_bias(model, graph, "gender", step_size=alpha)
    table, target = graph.attribute_table("gender"), graph.target_table
    people = table.person_ids[table.membership.any(1)]
    female = table.value_labels.index("female")
    with torch.no_grad():
        h = model.entity.weight[people]
        r_g = model.relation.weight[table.relation_id]
        f_vec = model.entity.weight[table.value_ids[female]]
        m_vec = model.entity.weight[table.value_ids[1 - female]]
        step = -torch.sign(h + r_g - f_vec) + torch.sign(h + r_g - m_vec)
        moved = h + alpha * step
        r_p = model.relation.weight[target.relation_id]
        prof = model.entity.weight[target.value_ids]
        before = -(h[:, None] + r_p - prof[None]).abs().sum(-1)
        after = -(moved[:, None] + r_p - prof[None]).abs().sum(-1)
    expected = (after - before).mean(0).numpy()
    column = result.measured.index("female")
    np.testing.assert_allclose(result.score_change[:, column], expected, atol=1e-5)
    expected_prob = (torch.softmax(after, 1) - torch.softmax(before, 1)).mean(0).numpy()
    np.testing.assert_allclose(result.probability_change[:, column], expected_prob, atol=1e-6)
    assert result.people == people.numel()
    # The measurement leaves the model untouched and collects no training gradients.
    assert all(not getattr(t, "pending", []) for t in (model.entity, model.relation))


def test_trajectory_raises_the_value_score_monotonically(skewed):
    graph, model, _ = skewed
    person = "person0"  # person0 is a midwife (profession 0), so female in this graph
    short = person_trajectory(model, graph, person, "gender", "male", steps=5, step_size=0.005)
    male = short.value_labels.index("male")
    assert np.all(np.diff(short.attribute_scores[:, male]) > 0)
    assert short.value == "male" and short.person == person
    long = person_trajectory(model, graph, person, "gender", "male", steps=40, step_size=0.02, top=3)
    # The contrast S(male) - S(female) never falls (exact for TransE L1: a crossing coordinate stops).
    assert np.all(np.diff(long.objective) >= -1e-5)
    assert long.attribute_scores[-1, male] > long.attribute_scores[0, male] + 0.5
    assert long.embeddings.shape == (41, model.dim)
    np.testing.assert_allclose(long.embeddings[0], model.entity.weight[graph.entity_to_id[person]].numpy())
    assert len(long.ranking) == 41 * 3 and set(long.ranking["step"]) == set(range(41))
    start = long.ranking[long.ranking["step"] == 0]
    assert start.iloc[0]["label"] == "midwife" and bool(start.iloc[0]["held"])
    end = long.ranking[long.ranking["step"] == 40]
    assert end.iloc[0]["label"] in MALE_ONLY  # moved towards male, the model's top profession follows
    np.testing.assert_allclose(long.profession_probabilities.sum(1), 1.0, rtol=1e-5)
    # Default value: the one the person does not hold.
    assert person_trajectory(model, graph, person, "gender", steps=1).value == "male"


# ---------------------------------------------------------------------------------------------- multi-valued, reversed
def test_reversed_multi_valued_attribute_scores_the_value_as_head(skewed):
    graph, model, _ = skewed
    table = graph.attribute_table("group")
    assert table.reversed and table.num_values == 3
    people = table.person_ids[table.membership.any(1)][:7]
    with torch.no_grad():
        scores = attribute_scores(model, model.entity.weight[people], people, table)
        for j, value in enumerate(table.value_ids.tolist()):
            heads = torch.full_like(people, value)
            rel = torch.full_like(people, table.relation_id)
            torch.testing.assert_close(scores[:, j], model.score_triples(heads, rel, people))
    result = measure_bias(model, graph, "group")
    for group in ("group_a", "group_b", "group_c"):
        top = bias_table(result, group, top=2, min_support=1)
        assert set(top["label"]) == {p for p, g in GROUP_OF.items() if g == group}, (group, top)
    one = measure_bias(model, graph, "group", value="group_b")
    assert one.measured == ["group_b"]
    np.testing.assert_allclose(one.score_change[:, 0], result.score_change[:, result.measured.index("group_b")])


def test_non_reversed_attribute_scores_match_score_triples(skewed):
    graph, model, _ = skewed
    table = graph.attribute_table("gender")
    people = table.person_ids[table.membership.any(1)][:7]
    with torch.no_grad():
        scores = attribute_scores(model, model.entity.weight[people], people, table)
        for j, value in enumerate(table.value_ids.tolist()):
            torch.testing.assert_close(scores[:, j], model.score_triples(
                people, torch.full_like(people, table.relation_id), torch.full_like(people, value)))


# ---------------------------------------------------------------------------------------------- aggregate, probe
def test_aggregate_bias_bootstrap_contains_the_estimate_and_repeats_with_the_seed(skewed):
    graph, model, _ = skewed
    first = aggregate_bias(model, graph, "gender", n_boot=300, seed=3)
    again = aggregate_bias(model, graph, "gender", n_boot=300, seed=3)
    other = aggregate_bias(model, graph, "gender", n_boot=300, seed=4)
    assert first["ci_low"] <= first["bias"] <= first["ci_high"]
    assert (first["ci_low"], first["ci_high"]) == (again["ci_low"], again["ci_high"])
    assert (first["ci_low"], first["ci_high"]) != (other["ci_low"], other["ci_high"])
    assert first["bias"] == other["bias"]
    result = measure_bias(model, graph, "gender")  # default: raw score changes
    expected = np.abs(result.score_change).mean()
    assert first["bias"] == pytest.approx(expected, rel=1e-5)
    assert first["sum_abs"] == pytest.approx(expected * len(SKEWED_PROFESSIONS), rel=1e-5)
    # An untrained model associates far less: the number separates the two.
    untrained = aggregate_bias(untrained_model(graph), graph, "gender", n_boot=50)
    assert untrained["bias"] < 0.5 * first["bias"]


def test_probe_finds_gender_when_encoded_and_chance_otherwise(skewed):
    graph, model, _ = skewed
    probe = leakage_probe(model, graph, "gender", folds=5, seed=0)
    assert probe["roc_auc"] > 0.9 and probe["balanced_accuracy"] > 0.8
    assert 0.35 < probe["control_roc_auc"] < 0.65  # the same pipeline on shuffled labels
    assert probe["classes"] == ["male", "female"] or probe["classes"] == ["female", "male"]
    assert len(probe["roc_auc_folds"]) == 5
    assert probe == {**leakage_probe(model, graph, "gender", folds=5, seed=0), "seconds": probe["seconds"]}
    random_model = untrained_model(graph)  # untrained: embeddings carry no gender
    chance = leakage_probe(random_model, graph, "gender", folds=5, seed=0)
    assert 0.35 < chance["roc_auc"] < 0.65
    groups = leakage_probe(model, graph, "group", folds=5, seed=0)  # three values: macro one-vs-rest
    assert len(groups["classes"]) == 3 and groups["roc_auc"] > 0.7


def test_facts_probe_reads_the_attribute_from_other_facts_only(skewed, tmp_path):
    """With professions recorded mostly for one gender, a person's other facts reveal gender (AUC well
    above 0.5, shuffled labels at chance); where every profession is recorded for both alike, they do not,
    which shows the attribute's own triples are left out (with them the AUC would be 1)."""
    graph, _, _ = skewed
    facts = facts_probe(graph, "gender", folds=5, seed=0)
    assert facts["roc_auc"] > 0.8 and 0.35 < facts["control_roc_auc"] < 0.65
    assert facts["people"] == leakage_probe(skewed[1], graph, "gender", control=False)["people"]
    balanced = {name: 0.5 for name in SKEWED_PROFESSIONS}
    folder = write_graph(tmp_path, split_triples(people_triples(600, seed=1, professions=balanced), seed=0))
    spec = DatasetSpec(name="toy-neutral", attributes=(Attribute("gender", GENDER),), target=PROFESSION)
    neutral = facts_probe(KnowledgeGraph.from_folder(folder, spec=spec), "gender", folds=5, seed=0)
    assert 0.35 < neutral["roc_auc"] < 0.65, neutral["roc_auc"]
    groups = facts_probe(graph, "group", folds=5, seed=0)  # stored value -> person: professions give it away
    assert len(groups["classes"]) == 3 and groups["roc_auc"] > 0.8


def test_attribute_blind_reference_leaks_only_what_the_other_facts_imply(skewed, tmp_path):
    """Basic TransE trained with every gender triple withheld never sees gender (the gender relation's
    vector keeps its initial value), yet the probe reads gender from it where the professions are recorded
    mostly for one gender: above chance, well below the model trained on gender itself. Where professions
    are recorded for both alike, nothing is left to read."""
    graph, model, _ = skewed

    def blind(graph: KnowledgeGraph):
        before = untrained_model(graph).relation.weight.detach().clone()  # the same seed: fit's initial weights
        blind_model = trained_model(graph, training={"withheld_relations": [GENDER]})
        after = blind_model.relation.weight.detach()
        gender = graph.relation_id(GENDER)
        assert torch.equal(after[gender], before[gender])
        assert not torch.equal(after[graph.relation_id(PROFESSION)], before[graph.relation_id(PROFESSION)])
        return leakage_probe(blind_model, graph, "gender", folds=5, seed=0, control=False)["roc_auc"]

    full = leakage_probe(model, graph, "gender", folds=5, seed=0, control=False)["roc_auc"]
    skewed_blind = blind(graph)
    assert 0.65 < skewed_blind < full - 0.05, (skewed_blind, full)
    balanced = {name: 0.5 for name in SKEWED_PROFESSIONS}
    folder = write_graph(tmp_path, split_triples(people_triples(600, seed=1, professions=balanced), seed=0))
    spec = DatasetSpec(name="toy-neutral", attributes=(Attribute("gender", GENDER),), target=PROFESSION)
    neutral_blind = blind(KnowledgeGraph.from_folder(folder, spec=spec))
    assert 0.35 < neutral_blind < 0.65, neutral_blind


def test_withheld_relations_are_checked(skewed):
    graph, _, _ = skewed
    kept = training_triples(graph, [GENDER, PROFESSION])
    train_triples = graph.splits["train"]
    expected = ~((train_triples[:, 1] == graph.relation_id(GENDER)) | (train_triples[:, 1] == graph.relation_id(PROFESSION)))
    assert torch.equal(kept, train_triples[expected]) and 0 < len(kept) < len(train_triples)
    assert torch.equal(training_triples(graph), train_triples)
    with pytest.raises(SpecError, match="/no/such/relation"):
        training_triples(graph, ["/no/such/relation"])
    with pytest.raises(KGError, match="No training triples left"):
        training_triples(graph, graph.relations)


# ---------------------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def run_dir(skewed_fit, skewed_dir, tmp_path_factory):
    return skewed_fit.save(tmp_path_factory.mktemp("runs") / "toy", DataSource(data_dir=str(skewed_dir), spec=SPEC))


def test_cli_table(run_dir, capsys):
    assert main(["bias", str(run_dir), "--attribute", "gender", "--top", "2", "--min-support", "1",
                 "--aggregate", "--probe"]) == 0
    out = capsys.readouterr().out
    assert "gender = female" in out and "gender = male" in out
    assert "recorded in this graph with two values" in out
    female_block = out.split("gender = female")[1].split("data share")[0]
    assert all(p in female_block for p in FEMALE_ONLY) and not any(p in female_block for p in MALE_ONLY)
    assert "aggregate bias (gender)" in out and "leakage probe" in out and "the model's own prediction (gender" in out


def test_cli_csv(run_dir, capsys):
    assert main(["bias", str(run_dir), "--value", "male", "--top", "3", "--min-support", "1",
                 "--format", "csv", "--aggregate"]) == 0
    captured = capsys.readouterr()
    frame = pd.read_csv(StringIO(captured.out))
    assert list(frame["value"].unique()) == ["male"]
    assert list(frame["rank"]) == [1, 2, 3]
    assert set(frame["label"][:2]) == set(MALE_ONLY)
    assert {"B", "C_male", "C_female", "share", "people"} <= set(frame.columns)
    assert "aggregate bias" in captured.err


def test_cli_json(run_dir, capsys):
    assert main(["bias", str(run_dir), "--attribute", "group", "--top", "2", "--min-support", "1",
                 "--format", "json", "--measure", "score", "--probe"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["measure"] == "change of score"
    assert set(payload["tables"]) == {"group_a", "group_b", "group_c"}
    assert {row["label"] for row in payload["tables"]["group_c"]} == set(MALE_ONLY)
    assert payload["probe"]["roc_auc"] > 0.7
    # group has three values: the model's own prediction, scored one value against the rest
    assert payload["prediction"]["classes"] == ["group_a", "group_b", "group_c"] and payload["prediction"]["roc_auc"] > 0.7


def test_cli_errors_are_messages(run_dir, capsys):
    assert main(["bias", str(run_dir), "--attribute", "height"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "gender" in err and "Traceback" not in err
    assert main(["bias", str(run_dir), "--value", "robot"]) == 2
    assert "no value 'robot'" in capsys.readouterr().err
    assert main(["bias", str(run_dir.parent / "missing")]) == 2
    with pytest.raises(SystemExit):
        main(["bias", "--help"])
    assert "arXiv:1912.02761" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- FB15k-237
@pytest.mark.fb15k
@pytest.mark.slow
def test_fb15k237_professions_lean_as_the_graph_does(fb15k):
    """After a short TransE training (L1, dim 50, 20 epochs, Adam lr 0.003: ~10 s on an idle 2-core
    machine), professions with many women in the graph (model; actor, which holds most of its actresses)
    lean female, and the male-skewed ones (film director, composer) lean male.

    Measured over seeds 0-3 with this setting: model and actor on the female side, film director on the male
    side at every seed and composer at three of four (so the pair is asserted against model and actor, and
    as a group), and a rank correlation between the data's share of women and B_female of 0.30-0.43. At lr
    0.01 the same training is unstable on FB15k-237 (test MRR varies 0.09-0.12 over seeds) and the
    correlation ranged 0.07-0.37, too close to chance for a test."""
    model = trained_model(fb15k, dim=50, interaction="transe-l1", epochs=20, batch_size=1024, lr=0.003)
    started = time.perf_counter()
    # L1 TransE: the probability measure with a small step (a raw score change after a step on an L1 distance
    # moves every profession alike; the paper's raw measure is for its dot-product score).
    result = measure_bias(model, fb15k, "gender", use_probability=True, step_size=1e-3)
    seconds = time.perf_counter() - started
    print(f"\nFB15k-237 gender: {result.people} people x {len(result.frame)} professions in {seconds:.2f} s")
    frame = result.frame[result.frame["people"] >= 10].set_index("label")
    female = frame["B_female"]
    print(female[["model", "actor", "film director", "composer"]].to_string())
    assert female["model"] > 0 and female["actor"] > 0
    assert max(female["film director"], female["composer"]) < min(female["model"], female["actor"])
    gender = fb15k.attribute_table("gender")
    female_people = gender.membership[:, gender.value_labels.index("female")].sum()
    overall = float(female_people) / float(gender.membership.any(1).sum())
    female_skewed = frame["share_female"] >= 1.25 * overall  # 9 professions: model, actor, costume designer, ...
    male_skewed = frame["share_female"] <= 0.5 * overall  # 40 professions: film director, composer, ...
    assert {"model", "actor"} <= set(frame.index[female_skewed])
    assert {"film director", "composer"} <= set(frame.index[male_skewed])
    assert female[female_skewed].mean() > 0 > female[male_skewed].mean()
    _, stats = data_vs_model(result, "female", min_support=10)
    assert stats["spearman"] > 0.2, stats
    print(bias_table(result, "female", top=10).to_string())
    print(bias_table(result, "male", top=10).to_string())


def test_a_single_profession_is_no_probability_measure(tmp_path):
    """With one profession the probability measure is zero by construction: refused with a sentence, while
    the raw score change (the default) still measures it."""
    from kgcore.data.graph import KnowledgeGraph
    from kgcore.errors import KGError

    from .factories import untrained_model
    from .synthetic import SPEC, people_triples

    graph = KnowledgeGraph({"train": people_triples(60, seed=1, professions={"nurse": 0.5})}, spec=SPEC)
    assert graph.target_table.num_values == 1
    model = untrained_model(graph)
    for measure in (measure_bias, aggregate_bias):
        with pytest.raises(KGError, match="single .*compares professions"):
            measure(model, graph, "gender", use_probability=True)
    assert len(measure_bias(model, graph, "gender").frame) == 1
