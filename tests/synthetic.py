"""Small generated knowledge graphs for tests: people with a gender and professions of known skew.

Real training on these takes a second or two; the skews are built in, so tests know the right answer.
"""
from __future__ import annotations

import random
from pathlib import Path

from kgcore.data.spec import Attribute, DatasetSpec
from kgcore.data.triples import Triple, write_triples

GENDER = "has_gender"
PROFESSION = "has_profession"
SPEC = DatasetSpec(name="toy", attributes=(Attribute("gender", GENDER),), target=PROFESSION,
                   value_labels={"male": "male", "female": "female"})

# profession -> share of women among its people
DEFAULT_PROFESSIONS = {"nurse": 0.95, "model": 0.9, "dancer": 0.8, "teacher": 0.5, "writer": 0.5,
                       "banker": 0.1, "director": 0.05, "engineer": 0.1}


def people_triples(n_people: int = 300, seed: int = 0, professions: dict[str, float] | None = None,
                   n_cities: int = 12) -> list[Triple]:
    """Each person: a gender, one profession drawn to match the profession's female share, a city,
    and a friend; cities sit in countries so the graph has ordinary structure besides people."""
    rng = random.Random(seed)
    professions = professions or DEFAULT_PROFESSIONS
    names = list(professions)
    triples: list[Triple] = []
    for c in range(n_cities):
        triples.append((f"city{c}", "in_country", f"country{c % 3}"))
    for i in range(n_people):
        person = f"person{i}"
        profession = names[i % len(names)]
        gender = "female" if rng.random() < professions[profession] else "male"
        triples.append((person, GENDER, gender))
        triples.append((person, PROFESSION, profession))
        triples.append((person, "born_in", f"city{rng.randrange(n_cities)}"))
        triples.append((person, "friend_of", f"person{rng.randrange(n_people)}"))
    return triples


def split_triples(triples: list[Triple], seed: int = 0, holdout: float = 0.1) -> dict[str, list[Triple]]:
    """Random train/valid/test split keeping every entity and relation of valid/test in train."""
    rng = random.Random(seed)
    shuffled = triples[:]
    rng.shuffle(shuffled)
    train, held = [], []
    n_hold = int(len(shuffled) * holdout)
    for h, r, t in shuffled:
        train.append((h, r, t))
    # Move candidates to held-out only if their entities stay covered by the remaining train triples.
    counts: dict[str, int] = {}
    for h, r, t in train:
        for x in (h, t, "rel:" + r):
            counts[x] = counts.get(x, 0) + 1
    keep = []
    for triple in train:
        h, r, t = triple
        if len(held) < n_hold and counts[h] > 1 and counts[t] > 1 and counts["rel:" + r] > 1:
            held.append(triple)
            for x in (h, t, "rel:" + r):
                counts[x] -= 1
        else:
            keep.append(triple)
    half = len(held) // 2
    return {"train": keep, "valid": held[:half], "test": held[half:]}


def write_graph(folder: Path, splits: dict[str, list[Triple]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, triples in splits.items():
        write_triples(folder / f"{name}.txt", triples)
    return folder


# ---- bias-measurement helpers (tests/test_bias.py) ----
# Professions built to be all-female, all-male or balanced, so the sign of a bias score is known.
SKEWED_PROFESSIONS = {"midwife": 1.0, "nanny": 1.0, "teacher": 0.5, "writer": 0.5,
                      "lumberjack": 0.0, "bishop": 0.0}
GROUP = "group_has_member"  # stored value -> person, like FB15k-237's /people/ethnicity/people


def group_triples(n_people: int, professions: dict[str, str], seed: int = 0, loyalty: float = 0.9) -> list[Triple]:
    """(group, GROUP, person) triples: person i (with people_triples' profession ``names[i % len]``) joins
    the group named by ``professions[profession]`` with probability ``loyalty``, otherwise a random group."""
    rng = random.Random(seed)
    names = list(professions)
    groups = sorted(set(professions.values()))
    triples: list[Triple] = []
    for i in range(n_people):
        group = professions[names[i % len(names)]]
        if rng.random() >= loyalty:
            group = rng.choice(groups)
        triples.append((group, GROUP, f"person{i}"))
    return triples
