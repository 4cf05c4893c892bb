"""The built-in FB15k-237 spec on the real data, checked against direct counts from the files.

The README's people table counts all splits; the graph's attribute tables use the training split only
(what a model learns from), so each is checked against its own direct count. Gender is recorded in
FB15k-237 with two values.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kgcore.training.evaluate import evaluate

from .factories import fit, untrained_model

GENDER = "/people/person/gender"
PROFESSION = "/people/person/profession"
ETHNICITY = "/people/ethnicity/people"
MALE, FEMALE = "/m/05zppz", "/m/02zsn"
ACTOR, FILM_DIRECTOR = "/m/02hrh1q", "/m/02jknp"


def _pairs(folder: Path, relation: str, splits=("train",)) -> set[tuple[str, str]]:
    """Distinct (head, tail) pairs of one relation, read straight from the files."""
    pairs = set()
    for split in splits:
        with open(folder / f"{split}.txt", encoding="utf-8") as handle:
            for line in handle:
                head, rel, tail = line.rstrip("\n").split("\t")
                if rel == relation:
                    pairs.add((head, tail))
    return pairs


@pytest.fixture(scope="module")
def direct(fb15k_dir):
    return {name: _pairs(fb15k_dir, rel) for name, rel in
            (("gender", GENDER), ("profession", PROFESSION), ("ethnicity", ETHNICITY))}


def test_gender_table_matches_the_training_file(fb15k, fb15k_dir, direct):
    table = fb15k.attribute_table("gender")
    assert table.value_labels == ["male", "female"]  # value 0 is the majority value in this graph
    assert [fb15k.entities[int(v)] for v in table.value_ids] == [MALE, FEMALE]
    male = {h for h, t in direct["gender"] if t == MALE}
    female = {h for h, t in direct["gender"] if t == FEMALE}
    assert {t for _, t in direct["gender"]} == {MALE, FEMALE}
    assert table.counts().tolist() == [len(male), len(female)]
    assert int(table.membership.any(1).sum()) == len(male | female)
    assert not (male & female) and int(table.membership.sum(1).max()) == 1
    # The README counts all splits: 4,530 people, 3,552 male and 978 female; train holds a part of them.
    everywhere = _pairs(fb15k_dir, GENDER, ("train", "valid", "test"))
    assert (len({h for h, t in everywhere if t == MALE}), len({h for h, t in everywhere if t == FEMALE})) == (3552, 978)
    assert len(male) < 3552 and len(female) < 978 and len(male) / len(female) > 3


def test_professions_match_the_training_file(fb15k, fb15k_dir, direct):
    target = fb15k.target_table
    assert target.num_values == len({t for _, t in direct["profession"]})
    assert int(target.membership.any(1).sum()) == len({h for h, _ in direct["profession"]})
    assert int(target.membership.sum()) == len(direct["profession"])
    everywhere = _pairs(fb15k_dir, PROFESSION, ("train", "valid", "test"))
    assert (len(everywhere), len({h for h, _ in everywhere}), len({t for _, t in everywhere})) == (13382, 4383, 152)
    # Everyone with a gender or a profession in train is one of the graph's people.
    people = {fb15k.entities[int(p)] for p in fb15k.people}
    assert {h for h, _ in direct["gender"] | direct["profession"]} <= people


def test_target_counts_by_gender(fb15k, direct):
    counts = fb15k.target_counts("gender").set_index("entity")
    assert list(counts.columns) == ["label", "people", "C_male", "C_female", "C_unknown"]
    gender = dict(direct["gender"])
    for profession in (ACTOR, FILM_DIRECTOR):
        holders = {h for h, t in direct["profession"] if t == profession}
        row = counts.loc[profession]
        assert row["people"] == len(holders)
        assert row["C_male"] == sum(gender.get(h) == MALE for h in holders)
        assert row["C_female"] == sum(gender.get(h) == FEMALE for h in holders)
        assert row["C_male"] + row["C_female"] + row["C_unknown"] == row["people"]
    assert counts.loc[ACTOR, "label"] == "actor" and counts.loc[FILM_DIRECTOR, "label"] == "film director"
    # The README's shape (all splits): actor is the largest profession, 29% female; film director 7%.
    assert counts.index[0] == ACTOR
    share = {p: counts.loc[p, "C_female"] / (counts.loc[p, "C_male"] + counts.loc[p, "C_female"])
             for p in (ACTOR, FILM_DIRECTOR)}
    assert 0.2 < share[ACTOR] < 0.4 and 0.03 < share[FILM_DIRECTOR] < 0.15


def test_reversed_ethnicity_gives_people_as_persons(fb15k, direct):
    table = fb15k.attribute_table("ethnicity")
    assert table.reversed
    members = table.person_ids[table.membership.any(1)]
    member_names = {fb15k.entities[int(p)] for p in members}
    # Stored ethnicity -> person: the people are the tails, the values the heads.
    assert member_names == {t for _, t in direct["ethnicity"]}
    assert {fb15k.entities[int(v)] for v in table.value_ids} == {h for h, _ in direct["ethnicity"]}
    assert int(table.membership.sum()) == len(direct["ethnicity"])
    gendered = {h for h, _ in direct["gender"]}
    assert len(member_names & gendered) > 0.8 * len(member_names)
    person_index = {int(p): i for i, p in enumerate(table.person_ids)}
    value_index = {int(v): j for j, v in enumerate(table.value_ids)}
    for head, tail in sorted(direct["ethnicity"])[:50]:
        assert table.membership[person_index[fb15k.entity_to_id[tail]], value_index[fb15k.entity_to_id[head]]]


def test_labels_from_entity2wikidata_with_mid2name_fallback(fb15k):
    assert fb15k.label(ACTOR) == "actor"  # entity2wikidata.json ("Actor-GB" in FB15k_mid2name.txt)
    assert fb15k.label("/m/09c7w0") == "United States of America"
    assert fb15k.label("/m/02kxbwx") == "Ethan Coen"  # absent from entity2wikidata.json: mid2name, underscores gone
    assert fb15k.label(fb15k.entity_to_id[FILM_DIRECTOR]) == "film director"
    assert fb15k.label(MALE) == "male" and fb15k.label(FEMALE) == "female"  # the spec's value labels


def test_brief_training_and_filtered_profession_evaluation(fb15k):
    baseline = evaluate(untrained_model(fb15k), fb15k, "test", relation=PROFESSION)["mrr"]
    trained = fit(fb15k, epochs=1, batch_size=4096, lr=0.01)
    model, result = trained.model, trained.result
    assert len(result.history) == 1 and result.history[0].seconds > 0
    n_test = int((fb15k.splits["test"][:, 1] == fb15k.relation_id(PROFESSION)).sum())
    metrics = evaluate(model, fb15k, "test", relation=PROFESSION)
    assert metrics["count"] == 2 * n_test and metrics["filtered"]
    assert 0 < metrics["mrr"] < 1 and 0 < metrics["tail"]["mrr"] < 1
    assert metrics["mrr"] > 10 * baseline, (metrics["mrr"], baseline)  # one epoch already learns something
    raw = evaluate(model, fb15k, "test", relation=PROFESSION, filtered=False)
    assert raw["mrr"] <= metrics["mrr"] and torch.isfinite(torch.tensor(raw["mean_rank"]))
