"""The debiasing paper's two measures of what is left (``kgcore.analysis.residual``): a model trained on gender
keeps it (a clear score gap, a classifier far above the always-majority rate), a model that never learned it
does not; the gap is the by-hand difference of ``score_triples``; the CLI carries the numbers."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from kgcore.analysis.residual import attribute_classifier, residual_measures, residual_people, score_difference
from kgcore.cli import main
from kgcore.commands.bias import _residual_lines
from kgcore.data.datasets import DataSource
from kgcore.data.graph import KnowledgeGraph
from kgcore.data.spec import Attribute, DatasetSpec
from kgcore.errors import KGError

from .factories import fit, trained_model, untrained_model
from .synthetic import (GENDER, GROUP, PROFESSION, SKEWED_PROFESSIONS, group_triples, people_triples,
                        split_triples, write_graph)

GROUP_OF = {"midwife": "group_a", "nanny": "group_a", "teacher": "group_b", "writer": "group_b",
            "lumberjack": "group_c", "bishop": "group_c"}
SPEC = DatasetSpec(name="toy-residual", target=PROFESSION,
                   attributes=(Attribute("gender", GENDER), Attribute("group", GROUP, reversed=True)))
N_PEOPLE = 200
EPOCHS = 20


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    triples = people_triples(N_PEOPLE, seed=1, professions=SKEWED_PROFESSIONS)
    triples += group_triples(N_PEOPLE, GROUP_OF, seed=1)
    return write_graph(tmp_path_factory.mktemp("residual"), split_triples(triples, seed=0))


@pytest.fixture(scope="module")
def basic(folder):
    """Basic TransE trained on the skewed graph, gender triples included."""
    return fit(KnowledgeGraph.from_folder(folder, spec=SPEC), epochs=EPOCHS)


@pytest.fixture(scope="module")
def kept(basic):
    """Both measures of both attributes of the Basic model (seed 0, 5 folds, top 30)."""
    return {name: residual_measures(basic.model, basic.graph, name) for name in ("gender", "group")}


def _by_hand(model, graph: KnowledgeGraph, attribute: str, top: int = 30) -> float:
    """Mean over people of S(true) - mean S(false), person by person from ``model.score_triples``."""
    table = graph.attribute_table(attribute)
    m = min(top, table.num_values)
    relation = torch.tensor([table.relation_id])
    gaps = []
    model.eval()
    with torch.no_grad():
        for row, person in enumerate(table.person_ids.tolist()):
            held = table.membership[row, :m]
            if not held.any() or held.all():
                continue
            scores = []
            for value in table.value_ids[:m].tolist():
                h, t = (value, person) if table.reversed else (person, value)
                scores.append(float(model.score_triples(torch.tensor([h]), relation, torch.tensor([t]))))
            scores = np.array(scores)
            gaps.append(scores[held.numpy()].mean() - scores[~held.numpy()].mean())
    return float(np.mean(gaps))


def test_a_model_trained_on_gender_keeps_it(basic, kept):
    gender = kept["gender"]
    gap, readable = gender["score_difference"], gender["classifier"]
    assert gap["difference"] > 0.5 and gap["true_score"] > gap["false_score"], gap
    assert gap["values"] in (["male", "female"], ["female", "male"]) and gap["top"] == 30
    assert readable["accuracy"] > readable["most_frequent_rate"] + 0.3, readable
    assert len(readable["accuracy_folds"]) == 5 and readable["hidden_units"] == 300
    assert (gender["difference"], gender["accuracy"]) == (gap["difference"], readable["accuracy"])
    # Seeded: the same numbers again.
    first, again = (attribute_classifier(basic.model, basic.graph, "gender", folds=2, seed=3, max_iter=20)
                    for _ in range(2))
    assert again["accuracy_folds"] == first["accuracy_folds"]
    # Stored value -> person, three values: S(group, r, person) against the two others.
    groups = kept["group"]
    assert groups["values"] == 3 and groups["score_difference"]["reversed"]
    assert groups["difference"] > 0.5 and groups["accuracy"] > groups["most_frequent_rate"] + 0.3, groups


def test_a_model_that_never_learned_gender_has_no_gap(basic, kept):
    graph = basic.graph
    trained = kept["gender"]["difference"]
    untrained = untrained_model(graph)
    withheld = trained_model(graph, epochs=EPOCHS, training={"withheld_relations": [GENDER]})
    for model in (untrained, withheld):
        assert abs(score_difference(model, graph, "gender")["difference"]) < 0.25 * trained
    # An untrained model's vectors carry nothing: the classifier does no better than always answering the majority.
    chance = attribute_classifier(untrained, graph, "gender", folds=3)
    assert abs(chance["accuracy"] - chance["most_frequent_rate"]) < 0.15, chance


def test_difference_is_the_by_hand_difference_of_triple_scores(basic):
    graph, model = basic.graph, basic.model
    for attribute in ("gender", "group"):
        assert score_difference(model, graph, attribute)["difference"] == pytest.approx(
            _by_hand(model, graph, attribute), rel=1e-6)
    # top 2 of group's three values: the people of the third value are left out, the others compared with one value.
    table = graph.attribute_table("group")
    two = score_difference(model, graph, "group", top=2)
    assert two["values"] == table.value_labels[:2] and two["left_out_outside_top"] == int(table.counts()[2])
    assert two["difference"] == pytest.approx(_by_hand(model, graph, "group", top=2), rel=1e-6)


def test_difference_splits_into_a_shared_and_an_individual_part(basic):
    """The shared part comes from each value's mean score over the people, the individual part from each person's
    departure from it: they add up to the difference; people made identical keep only the shared part; for
    dot-product TransE the shared part is the by-hand gap of the mean person's scores."""
    graph, model = basic.graph, copy.deepcopy(basic.model)
    for attribute in ("gender", "group"):
        gap = score_difference(model, graph, attribute)
        assert gap["shared_part"] + gap["individual_part"] == pytest.approx(gap["difference"], rel=1e-9)
        assert abs(gap["individual_part"]) > 0.1 * abs(gap["difference"]), gap  # trained people carry their value
    people = residual_people(model, graph, "gender")[1]
    with torch.no_grad():
        model.entity.weight[people] = model.entity.weight[people].mean(0)
    alike = score_difference(model, graph, "gender")
    assert alike["individual_part"] == pytest.approx(0.0, abs=1e-9)
    assert alike["shared_part"] == pytest.approx(alike["difference"], rel=1e-9)

    dot = untrained_model(graph, interaction="transe-dot")
    table, people, held = residual_people(dot, graph, "gender")[:3]
    with torch.no_grad():
        mean_person = dot.entity_vectors(people).mean(0)
        values = dot.entity_vectors(table.value_ids[:2])
        dot.relation.weight[table.relation_id] += 2 * (values[0] - values[1])  # tilt the relation to one value
        mean_scores = (values @ (mean_person + dot.relation_vector(table.relation_id, "cpu").reshape(-1))).double()
    by_hand = torch.where(held[:, 0], 1.0, -1.0).double().mul(mean_scores[0] - mean_scores[1]).mean()
    assert abs(float(by_hand)) > 1e-3
    assert score_difference(dot, graph, "gender")["shared_part"] == pytest.approx(float(by_hand), rel=1e-4)


def test_several_recorded_values_average_their_scores():
    """A person with two values among the top M: their mean score against the mean of the values they do not
    hold; a person holding every value is left out."""
    triples = [(f"p{i}", "citizen_of", country) for i, country in enumerate("aaabbc")]
    triples += [("p0", "citizen_of", "b"), ("p6", "citizen_of", "a"), ("p6", "citizen_of", "b"),
                ("p6", "citizen_of", "c")]
    triples += [(f"p{i}", PROFESSION, "job") for i in range(7)]
    spec = DatasetSpec(name="tiny", attributes=(Attribute("nationality", "citizen_of"),), target=PROFESSION)
    graph = KnowledgeGraph({"train": triples}, spec=spec)
    model = untrained_model(graph)
    result = score_difference(model, graph, "nationality")
    assert result["people"] == 6 and result["several_values"] == 1 and result["left_out_all_held"] == 1
    assert result["difference"] == pytest.approx(_by_hand(model, graph, "nationality"), abs=1e-5)


def test_most_frequent_rate_is_the_majority_share(basic, kept):
    table = basic.graph.attribute_table("gender")
    counts = table.membership[table.membership.any(1)].sum(0)
    readable = kept["gender"]["classifier"]
    assert readable["people"] == int(counts.sum()) and readable["class_counts"] == counts.tolist()
    assert readable["most_frequent_rate"] == pytest.approx(float(counts.max() / counts.sum()))
    assert readable["most_frequent_class"] == table.value_labels[0]


def test_attribute_vectors_are_not_added():
    """KL + Attr. with the gender relation itself whitelisted: its attribute vectors move the scores of
    ``score_triples``, not the measures (the paper's "without attribute vectors added")."""
    triples = people_triples(60, seed=2, professions=SKEWED_PROFESSIONS)
    graph = KnowledgeGraph(split_triples(triples, seed=0), spec=DatasetSpec(
        name="toy", attributes=(Attribute("gender", GENDER),), target=PROFESSION))
    model = untrained_model(graph, "kl", debias=["gender"], options={"whitelist": [[GENDER, "*"]]})
    plain = score_difference(model, graph, "gender")["difference"]
    with torch.no_grad():
        model.attribute_vectors.copy_(torch.randn_like(model.attribute_vectors))
    assert score_difference(model, graph, "gender")["difference"] == pytest.approx(plain, rel=1e-9)
    assert _by_hand(model, graph, "gender") != pytest.approx(plain, rel=1e-3)  # score_triples adds them


def test_unmeasurable_attributes_are_clear_errors(basic):
    model = basic.model
    one_value = KnowledgeGraph({"train": [(f"p{i}", GENDER, "female") for i in range(6)]
                                + [("p0", PROFESSION, "nurse")]}, spec=DatasetSpec(
        name="one", attributes=(Attribute("gender", GENDER),), target=PROFESSION))
    small = untrained_model(one_value)
    for measure in (score_difference, attribute_classifier):
        with pytest.raises(KGError, match="at least two values"):
            measure(small, one_value, "gender")
    # Gender recorded only outside training: nobody to measure in sample.
    nobody = KnowledgeGraph({"train": [(f"p{i}", PROFESSION, "nurse") for i in range(4)],
                             "valid": [("p0", GENDER, "female")]}, spec=one_value.spec, unseen="keep")
    with pytest.raises(KGError, match="No person in the training graph"):
        score_difference(untrained_model(nobody), nobody, "gender")
    with pytest.raises(KGError, match="entities"):  # a model of another graph
        score_difference(model, one_value, "gender")
    with pytest.raises(KGError, match="folds"):
        attribute_classifier(model, basic.graph, "gender", folds=1)


@pytest.fixture(scope="module")
def run_dir(basic, folder, tmp_path_factory):
    return basic.save(tmp_path_factory.mktemp("runs") / "basic", DataSource(data_dir=str(folder), spec=SPEC))


def test_cli_json_and_table(kept, run_dir, capsys):
    assert main(["bias", str(run_dir), "--residual", "--format", "json", "--top", "1", "--min-support", "1"]) == 0
    residual = json.loads(capsys.readouterr().out)["residual"]
    assert set(residual) == {"gender", "group"}  # every attribute of the spec without --attribute
    expected = kept["gender"]
    gender = residual["gender"]
    assert gender["difference"] == pytest.approx(expected["difference"], rel=1e-5)
    assert gender["accuracy"] == pytest.approx(expected["accuracy"])
    assert gender["most_frequent_rate"] == pytest.approx(expected["most_frequent_rate"])
    assert gender["classifier"]["classes"] == expected["classifier"]["classes"]
    assert "definition" in gender["score_difference"] and gender["score_difference"]["people"] > 0

    assert main(["bias", str(run_dir), "--residual", "--attribute", "group", "--top", "1", "--min-support", "1"]) == 0
    out = capsys.readouterr().out
    block = out.split("What is left of each attribute")[1]
    assert "score gap (true - other)" in block and "always-majority rate" in block
    assert "group" in block and "gender" not in block.split("Score gap:")[0]
    # An attribute of the spec that cannot be measured is named, the others stay.
    assert "other: not measured: no values" in _residual_lines({"other": {"attribute": "other",
                                                                          "error": "no values"}})
