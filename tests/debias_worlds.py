"""The small generated worlds the debiasing tests train on (tests/test_debias.py, tests/test_kl_scoring.py,
tests/test_bose.py): people with a gender, one profession skewed by design (with an all-women ``nun``), a
city and a friend; a quarter of the people have their profession held out of training."""
from __future__ import annotations

import random
from pathlib import Path

from kgcore.data.graph import KnowledgeGraph
from kgcore.data.spec import Attribute, DatasetSpec
from kgcore.data.triples import Triple

from .synthetic import GENDER, GROUP, PROFESSION, SPEC, group_triples, people_triples, write_graph

PROFESSIONS = {"nun": 1.0, "nurse": 0.9, "dancer": 0.8, "teacher": 0.5, "writer": 0.5, "banker": 0.15,
               "engineer": 0.1, "bishop": 0.0}
WHITELIST = [[PROFESSION, "nun"]]
N_PEOPLE = 400


def held_out_splits(n_people: int = N_PEOPLE, seed: int = 0, holdout: float = 0.25,
                    extra: list[Triple] | None = None) -> tuple[dict[str, list[Triple]], list[str]]:
    """``people_triples`` with the profession of a random quarter of the people moved to valid/test."""
    rng = random.Random(seed)
    held = sorted(f"person{i}" for i in range(n_people) if rng.random() < holdout)
    held_set = set(held)
    train_, rest = [], []
    for triple in people_triples(n_people, seed=seed, professions=PROFESSIONS) + (extra or []):
        (rest if triple[1] == PROFESSION and triple[0] in held_set else train_).append(triple)
    return {"train": train_, "valid": rest[::2], "test": rest[1::2]}, held


def two_attribute_graph(n_people: int, groups: dict[str, str] | None = None) -> KnowledgeGraph:
    """``held_out_splits`` plus a second attribute stored the other way round (group -> person), each
    profession's people mostly in one group (``groups``: profession -> group; default north or south)."""
    groups = groups or {p: ("north" if share > 0.5 else "south") for p, share in PROFESSIONS.items()}
    splits, _ = held_out_splits(n_people, extra=group_triples(n_people, groups, loyalty=0.9))
    spec = DatasetSpec(name="toy2", attributes=(Attribute("gender", GENDER), Attribute("group", GROUP, reversed=True)),
                       target=PROFESSION)
    return KnowledgeGraph(splits, spec=spec)


def held_out_world(folder: Path) -> tuple[Path, KnowledgeGraph, list[str]]:
    """``held_out_splits`` written to ``folder`` and loaded: (folder, graph, the held-out people)."""
    splits, held = held_out_splits()
    written = write_graph(folder, splits)
    return written, KnowledgeGraph.from_folder(written, spec=SPEC), held
