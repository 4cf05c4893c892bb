"""Whitelists for attribute embeddings: where a sensitive attribute may legitimately matter, read from a
file (or one shipped with the package) and resolved against a graph's names and labels.

A whitelist file has one entry a line, tab-separated; ``#`` starts a comment (a whole line or the rest of one):

    ATTRIBUTE<TAB>RELATION<TAB>TAIL<TAB>REASON

- ATTRIBUTE: a sensitive attribute of the dataset's spec (``gender``), or ``*`` for every debiased one.
- RELATION: a relation of the graph. TAIL: an entity (name, or an unambiguous label), or ``*`` for every
  tail of the relation. A relation such as ``/people/person/profession`` with a profession as TAIL says which
  attributes that profession may use (Fisher et al., EMNLP 2020: a nun may use religion and gender).
- REASON: one line of plain English saying why the attribute may matter there.

The older two-column lines ``RELATION<TAB>TAIL`` and ``RELATION`` alone (every tail) are still read; they
apply to every debiased attribute (ATTRIBUTE ``*``) and carry no reason.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ..errors import DataError, SpecError

if TYPE_CHECKING:
    from .graph import KnowledgeGraph

ANY = "*"
BUILTIN_WHITELISTS = ("demo", "fb15k237")
FORMAT = "ATTRIBUTE<TAB>RELATION<TAB>TAIL<TAB>REASON"


@dataclass(frozen=True)
class WhitelistEntry:
    """One whitelist line: ``attribute`` (or ``*``) may be used for ``relation`` with ``tail`` (or ``*``)."""

    attribute: str
    relation: str
    tail: str
    reason: str = ""
    line: int = 0

    def as_list(self) -> list[str]:
        """``[relation, tail, attribute]``, the form ``read_whitelist`` returns and model options hold."""
        return [self.relation, self.tail, self.attribute]


def parse_whitelist(text: str, source: str = "whitelist") -> list[WhitelistEntry]:
    """The entries of a whitelist's text, in order; ``source`` names it in errors (``FILE, line N: ...``)."""
    entries: list[WhitelistEntry] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip().lstrip(" ")  # a leading tab is an empty first field
        if not line:
            continue
        fields = [f.strip() for f in line.split("\t")]
        where = f"{source}, line {line_no}"
        if len(fields) not in (1, 2, 4):
            raise DataError(f"{where}: expected RELATION<TAB>TAIL or RELATION (old format) or {FORMAT}; got "
                            f"{len(fields)} tab-separated fields: {line!r}.")
        if not all(fields):
            names = ["RELATION", "TAIL"] if len(fields) <= 2 else ["ATTRIBUTE", "RELATION", "TAIL", "REASON"]
            empty = ", ".join(name for name, value in zip(names, fields) if not value)
            raise DataError(f"{where}: empty {empty} in {line!r} (fields are separated by single tabs).")
        if len(fields) == 4:
            attribute, relation, tail, reason = fields
        else:
            attribute, relation, tail, reason = ANY, fields[0], fields[1] if len(fields) == 2 else ANY, ""
        if relation == ANY:
            raise DataError(f"{where}: RELATION cannot be '*'; name a relation of the graph: {line!r}.")
        entries.append(WhitelistEntry(attribute, relation, tail, reason, line_no))
    return entries


def read_whitelist_entries(path: str | os.PathLike) -> list[WhitelistEntry]:
    """Every entry of a whitelist file, with its attribute, reason and line number."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"Whitelist file {path} not found.")
    if not path.is_file():
        raise DataError(f"Whitelist {path} is not a file.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text.") from exc
    return parse_whitelist(text, str(path))


def read_whitelist(path: str | os.PathLike) -> list[list[str]]:
    """A whitelist file as ``[[relation, tail, attribute], ...]`` (tail and attribute may be ``*``); see the
    module's docstring for the format. Old two-column lines have attribute ``*``."""
    return [entry.as_list() for entry in read_whitelist_entries(path)]


def builtin_whitelist_text(name: str) -> str:
    """The text of a whitelist shipped with kgcore: ``fb15k237`` (hand-labelled) or ``demo``."""
    if name not in BUILTIN_WHITELISTS:
        raise SpecError(f"No built-in whitelist {name!r}; there are: {', '.join(BUILTIN_WHITELISTS)}.")
    return resources.files(__package__).joinpath("whitelists", f"{name}.tsv").read_text(encoding="utf-8")


def builtin_whitelist_entries(name: str) -> list[WhitelistEntry]:
    """The entries of a built-in whitelist, with their reasons."""
    return parse_whitelist(builtin_whitelist_text(name), f"kgcore/data/whitelists/{name}.tsv")


def builtin_whitelist(name: str) -> list[list[str]]:
    """A built-in whitelist as ``read_whitelist`` returns a file: ``[[relation, tail, attribute], ...]``."""
    return [entry.as_list() for entry in builtin_whitelist_entries(name)]


def whitelist_pairs(entries: Iterable[list[str] | tuple[str, ...]]) -> list[list[str]]:
    """``[relation, tail]`` of each entry, attributes dropped, first occurrence kept: for code that takes
    pairs (entries may be ``[relation, tail]`` or ``[relation, tail, attribute]``)."""
    pairs: list[list[str]] = []
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        key = (str(entry[0]), str(entry[1]) if len(entry) > 1 else ANY)
        if key not in seen:
            seen.add(key)
            pairs.append(list(key))
    return pairs


def resolve_whitelist(entries: list[list[str]], graph: "KnowledgeGraph") -> list[tuple[int, int, str]]:
    """``[[relation, tail-or-"*"(, attribute-or-"*")], ...]`` to ``(relation id, tail id or -1 for every tail,
    attribute name or "*" for every attribute)``.

    A tail may be an entity name or, when unambiguous, its label (``nun`` for ``/m/...``); an attribute must
    be one of the graph's spec."""
    resolved: list[tuple[int, int, str]] = []
    label_index: dict[str, list[int]] | None = None
    known_attributes = set(graph.spec.attribute_names)
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, (list, tuple)) or len(entry) not in (2, 3):
            raise SpecError(f"Whitelist entry {number} must be [relation, tail] or [relation, tail, attribute] "
                            f"(tail or attribute '*' for all), got {entry!r}.")
        relation, tail = str(entry[0]), str(entry[1])
        attribute = str(entry[2]) if len(entry) == 3 else ANY
        if attribute != ANY and attribute not in known_attributes:
            raise SpecError(f"Whitelist entry {number} ({relation} {tail}) names the attribute {attribute!r}, which "
                            f"{graph.name} does not have (its attributes: {', '.join(sorted(known_attributes))}).")
        if relation not in graph.relation_to_id:
            close = [r for r in graph.relations if relation.lower().split("/")[-1] in r.lower()][:5]
            hint = f" Similar relations: {', '.join(close)}." if close else ""
            raise SpecError(f"Whitelist entry {number}: the relation {relation!r} does not occur in the training "
                            f"triples of {graph.name}.{hint} Run `python -m kgcore relations` to list them.")
        r_id = graph.relation_to_id[relation]
        if tail == "*":
            resolved.append((r_id, -1, attribute))
            continue
        if tail in graph.entity_to_id:
            resolved.append((r_id, graph.entity_to_id[tail], attribute))
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
            resolved.append((r_id, matches[0], attribute))
            continue
        what = (f"{len(matches)} entities are labelled {tail!r} ("
                + ", ".join(graph.entities[m] for m in matches[:5]) + "); give the entity name"
                if matches else f"no entity named or labelled {tail!r} occurs in the training triples")
        raise SpecError(f"Whitelist entry {number} ({relation} {tail}): {what}. Use '*' to whitelist the "
                        "whole relation.")
    return sorted(set(resolved))
