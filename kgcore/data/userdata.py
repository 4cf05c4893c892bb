"""A user's own triples file turned into a dataset folder kgcore can train on: a seeded held-out split
(so link prediction can be evaluated), a spec naming the attribute and target relations, and a
``dataset.json`` that records where it came from. The dashboard's upload form uses it; so can scripts.
"""
from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .datasets import DataSource
from ..errors import DataError, SpecError
from .graph import KnowledgeGraph
from ..io import write_text
from .spec import Attribute, DatasetSpec
from .triples import Triple, write_triples

DEFAULT_HOLDOUT = 0.1


def relation_counts(triples: list[Triple]) -> pd.DataFrame:
    """Per relation: triples, distinct heads and tails and one example, most used first (to help a user
    name the attribute and target relations of a graph they upload)."""
    rows: dict[str, dict[str, Any]] = {}
    for h, r, t in triples:
        row = rows.setdefault(r, {"relation": r, "triples": 0, "heads": set(), "tails": set(), "example": f"{h} → {t}"})
        row["triples"] += 1
        row["heads"].add(h)
        row["tails"].add(t)
    frame = pd.DataFrame([{**row, "heads": len(row["heads"]), "tails": len(row["tails"])} for row in rows.values()])
    return frame.sort_values(["triples", "relation"], ascending=[False, True]).reset_index(drop=True)


def holdout_split(triples: list[Triple], fraction: float = DEFAULT_HOLDOUT, seed: int = 0) -> dict[str, list[Triple]]:
    """Move about ``fraction`` of the distinct triples to valid and test (half each), only ever moving a
    triple whose entities and relation stay in the training triples, so every held-out triple can be scored.
    Deterministic for a ``seed``."""
    if not 0 <= fraction < 0.5:
        raise DataError(f"The held-out fraction must be between 0 and 0.5 (got {fraction}).")
    unique = sorted(set(triples))
    order = list(range(len(unique)))
    random.Random(seed).shuffle(order)
    uses: dict[str, int] = {}
    for h, r, t in unique:
        for key in (f"e:{h}", f"e:{t}", f"r:{r}"):
            uses[key] = uses.get(key, 0) + 1
    wanted = int(len(unique) * fraction)
    held: list[int] = []
    for index in order:
        if len(held) >= wanted:
            break
        h, r, t = unique[index]
        keys = [f"e:{h}", f"e:{t}", f"r:{r}"]
        if h == t:
            keys = [f"e:{h}", f"r:{r}"]
        if all(uses[k] > (2 if h == t and k.startswith("e:") else 1) for k in keys):
            held.append(index)
            for k in [f"e:{h}", f"e:{t}", f"r:{r}"]:
                uses[k] -= 1
    held_set = set(held)
    half = len(held) // 2
    return {"train": [unique[i] for i in range(len(unique)) if i not in held_set],
            "valid": sorted(unique[i] for i in held[:half]), "test": sorted(unique[i] for i in held[half:])}


def parse_labels(data: bytes, source: str = "<labels>") -> dict[str, str]:
    """``id<TAB>label`` lines (blank lines and ``#`` comments skipped) from uploaded bytes."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_no = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{source}, line {line_no}: not UTF-8 text. Save the file as UTF-8.") from exc
    labels: dict[str, str] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition("\t")
        if not sep or not key.strip() or not value.strip():
            raise DataError(f"{source}, line {line_no}: expected id<TAB>label, got {line[:120]!r}.")
        labels[key.strip()] = value.strip()
    if not labels:
        raise DataError(f"{source}: no labels found; expected lines of id<TAB>label.")
    return labels


def make_spec(name: str, target: str | None, attributes: dict[str, str], reversed_attributes: tuple[str, ...] = (),
              target_name: str = "profession") -> DatasetSpec:
    """A spec from a form: ``attributes`` maps attribute names to relations."""
    if target and target in attributes.values():
        raise SpecError(f"The target relation {target!r} is also named as an attribute; choose different relations.")
    names = [n.strip() for n in attributes]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise SpecError("Every attribute needs a distinct, non-empty name.")
    return DatasetSpec(name=name, target=target or None, target_name=target_name or "profession",
                       attributes=tuple(Attribute(n.strip(), r, n in reversed_attributes) for n, r in attributes.items()))


def save_dataset(folder: str | os.PathLike, triples: list[Triple], spec: DatasetSpec, label: str,
                 labels: dict[str, str] | None = None, holdout: float = DEFAULT_HOLDOUT, seed: int = 0,
                 source_name: str = "", overwrite: bool = False) -> DataSource:
    """Check that ``triples`` and ``spec`` make a usable graph, then write ``train/valid/test.txt``,
    ``labels.tsv`` (when given) and ``dataset.json`` to ``folder``. Returns the DataSource that loads it."""
    folder = Path(folder)
    if (folder / "dataset.json").exists() and not overwrite:
        raise DataError(f"A dataset named {folder.name!r} already exists ({folder}); choose another name.")
    splits = holdout_split(triples, holdout, seed)
    graph = KnowledgeGraph(splits, labels=labels, spec=spec, name=spec.name)  # raises SpecError on unknown relations
    if spec.target and graph.target_table.num_values == 0:
        raise SpecError(f"The target relation {spec.target!r} has no values in the training triples.")
    folder.mkdir(parents=True, exist_ok=True)
    for split, part in splits.items():
        write_triples(folder / f"{split}.txt", part)
    if labels:
        write_text(folder / "labels.tsv", "".join(f"{k}\t{v}\n" for k, v in sorted(labels.items())))
    source = DataSource(data_dir=str(folder.resolve()), spec=spec)
    meta = {"label": label, "data": source.to_dict(), "source_file": source_name, "created": time.time(),
            "holdout": holdout, "seed": seed, "summary": graph.summary(), "people": int(graph.people.numel())}
    write_text(folder / "dataset.json", json.dumps(meta, indent=2) + "\n")
    return source


__all__ = ["relation_counts", "parse_labels", "holdout_split", "make_spec", "save_dataset", "DEFAULT_HOLDOUT"]
