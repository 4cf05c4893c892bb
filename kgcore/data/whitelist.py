"""Whitelists for attribute embeddings: (relation, tail) pairs where an attribute may legitimately matter,
read from a file and resolved against a graph's names and labels."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataError, SpecError

if TYPE_CHECKING:
    from .graph import KnowledgeGraph


def read_whitelist(path: str | os.PathLike) -> list[list[str]]:
    """Lines ``RELATION<TAB>TAIL`` (one pair) or ``RELATION`` alone (every tail); ``#`` starts a comment."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"Whitelist file {path} not found.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text.") from exc
    pairs: list[list[str]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) > 2 or not all(fields):
            raise DataError(f"{path}, line {line_no}: expected RELATION<TAB>TAIL or RELATION, got {line!r}.")
        pairs.append([fields[0], fields[1] if len(fields) == 2 else "*"])
    return pairs


def resolve_whitelist(entries: list[list[str]], graph: "KnowledgeGraph") -> list[tuple[int, int]]:
    """``[[relation, tail-or-"*"], ...]`` to ``(relation id, tail id or -1 for every tail)``.

    A tail may be an entity name or, when unambiguous, its label (``nun`` for ``/m/...``)."""
    resolved: list[tuple[int, int]] = []
    label_index: dict[str, list[int]] | None = None
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise SpecError(f"Whitelist entry {number} must be [relation, tail] (tail '*' for all), got {entry!r}.")
        relation, tail = str(entry[0]), str(entry[1])
        if relation not in graph.relation_to_id:
            close = [r for r in graph.relations if relation.lower().split("/")[-1] in r.lower()][:5]
            hint = f" Similar relations: {', '.join(close)}." if close else ""
            raise SpecError(f"Whitelist entry {number}: the relation {relation!r} does not occur in the training "
                            f"triples of {graph.name}.{hint} Run `python -m kgcore relations` to list them.")
        r_id = graph.relation_to_id[relation]
        if tail == "*":
            resolved.append((r_id, -1))
            continue
        if tail in graph.entity_to_id:
            resolved.append((r_id, graph.entity_to_id[tail]))
            continue
        if label_index is None:
            label_index = {}
            for e_id, name in enumerate(graph.entities):
                label_index.setdefault(graph.label(name).lower(), []).append(e_id)
        matches = label_index.get(tail.lower(), [])
        if len(matches) > 1:  # prefer the entities that are tails of this relation in training
            train = graph.splits["train"]
            tails_of_relation = set(train[train[:, 1] == r_id, 2].tolist())
            matches = [m for m in matches if m in tails_of_relation] or matches
        if len(matches) == 1:
            resolved.append((r_id, matches[0]))
            continue
        what = (f"{len(matches)} entities are labelled {tail!r} ("
                + ", ".join(graph.entities[m] for m in matches[:5]) + "); give the entity name"
                if matches else f"no entity named or labelled {tail!r} occurs in the training triples")
        raise SpecError(f"Whitelist entry {number} ({relation} {tail}): {what}. Use '*' to whitelist the "
                        "whole relation.")
    return sorted(set(resolved))
