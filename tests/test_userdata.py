"""kgcore.data.userdata (uploads in the dashboard): the hold-out split, relation counts, label files,
specs, and saving an uploaded dataset that loads back as the same graph."""
from __future__ import annotations

import json

import pytest
import torch

from kgcore.data.datasets import DataSource
from kgcore.data.userdata import holdout_split, make_spec, parse_labels, relation_counts, save_dataset
from kgcore.errors import DataError, SpecError

from .synthetic import GENDER, PROFESSION, people_triples


def test_holdout_split_keeps_every_held_out_entity_in_train():
    triples = people_triples(200, seed=2)
    splits = holdout_split(triples, 0.1, seed=0)
    assert holdout_split(triples, 0.1, seed=0) == splits
    train_entities = {e for h, _, t in splits["train"] for e in (h, t)}
    train_relations = {r for _, r, _ in splits["train"]}
    held = splits["valid"] + splits["test"]
    assert len(held) == int(len(set(triples)) * 0.1)
    assert all(h in train_entities and t in train_entities and r in train_relations for h, r, t in held)
    assert sorted(splits["train"] + held) == sorted(set(triples))
    with pytest.raises(DataError, match="between 0 and 0.5"):
        holdout_split(triples, 0.7)


def test_uploaded_dataset_round_trip_and_errors(tmp_path):
    triples = people_triples(120, seed=4)
    counts = relation_counts(triples)
    assert counts["relation"].iloc[0] in (GENDER, PROFESSION, "born_in", "friend_of")
    assert counts["triples"].sum() == len(triples)
    labels = parse_labels("person0\tAda Lovelace\n# comment\n\nnurse\tNurse\n".encode(), "labels.tsv")
    assert labels == {"person0": "Ada Lovelace", "nurse": "Nurse"}
    with pytest.raises(DataError, match="labels.tsv, line 2: expected id<TAB>label"):
        parse_labels(b"a\tb\nno tab here\n", "labels.tsv")
    with pytest.raises(SpecError, match="also named as an attribute"):
        make_spec("x", GENDER, {"gender": GENDER})
    spec = make_spec("toy", PROFESSION, {"gender": GENDER})
    with pytest.raises(SpecError, match="does not occur"):
        save_dataset(tmp_path / "bad", triples, make_spec("toy", "no_such_relation", {"gender": GENDER}), "bad")
    assert not (tmp_path / "bad").exists(), "nothing is written for a bad spec"
    source = save_dataset(tmp_path / "toy", triples, spec, "Toy", labels=labels, source_name="toy.tsv")
    graph = source.load()
    assert graph.label("person0") == "Ada Lovelace"
    assert graph.attribute_table("gender").num_values == 2
    with pytest.raises(DataError, match="already exists"):
        save_dataset(tmp_path / "toy", triples, spec, "Toy")
    meta = json.loads((tmp_path / "toy" / "dataset.json").read_text())
    assert meta["source_file"] == "toy.tsv" and meta["summary"]["train_triples"] == graph.splits["train"].shape[0]
    assert torch.equal(DataSource.from_dict(meta["data"]).load().splits["test"], graph.splits["test"])
