"""The knowledge graph: id maps, train/valid/test splits, labels, and the people view a spec defines."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import torch

from ..errors import DataError, SpecError
from .spec import Attribute, DatasetSpec
from .triples import Triple, read_triples

SPLITS = ("train", "valid", "test")
UNSEEN_POLICIES = ("error", "drop", "keep")


@dataclass
class AttributeTable:
    """Which people hold which values of one attribute (or of the target relation), in the training graph.

    ``membership[i, j]`` is True when person ``person_ids[i]`` has value ``value_ids[j]``. Values are ordered
    by how many people hold them (most first), so value 0 of gender is the majority value in this graph.
    """

    name: str
    relation_id: int
    reversed: bool
    person_ids: torch.Tensor  # [P] entity ids
    value_ids: torch.Tensor  # [V] entity ids
    value_labels: list[str]
    membership: torch.Tensor  # [P, V] bool

    @property
    def num_values(self) -> int:
        return int(self.value_ids.numel())

    def counts(self) -> torch.Tensor:
        """People per value."""
        return self.membership.sum(0)

    def single_label(self) -> torch.Tensor:
        """One value index per person (the first held value in count order); -1 for none."""
        has_any = self.membership.any(1)
        first = self.membership.float().argmax(1)
        return torch.where(has_any, first, torch.full_like(first, -1))


class KnowledgeGraph:
    """Triples as integer tensors with string id maps, plus the labels and spec to read them as people."""

    def __init__(
        self,
        splits: dict[str, list[Triple]],
        labels: dict[str, str] | None = None,
        spec: DatasetSpec | None = None,
        name: str = "graph",
        unseen: str = "error",
        entity_names: Iterable[str] | None = None,
        relation_names: Iterable[str] | None = None,
        sources: dict[str, str] | None = None,
    ) -> None:
        if "train" not in splits or not splits["train"]:
            raise DataError("The graph has no training triples.")
        self.name = name
        if unseen not in UNSEEN_POLICIES:
            raise DataError(f"unseen must be one of {', '.join(UNSEEN_POLICIES)}, not {unseen!r}.")
        # 'keep' follows the standard protocol of benchmark releases (FB15k-237 has 36 entities only in
        # valid/test): the vocabulary spans all splits and those entities keep their random embedding.
        vocabulary = splits.values() if unseen == "keep" else [splits["train"]]
        if entity_names is None:
            entity_names = sorted({e for triples in vocabulary for h, _, t in triples for e in (h, t)})
        if relation_names is None:
            relation_names = sorted({r for triples in vocabulary for _, r, _ in triples})
        self.entities: list[str] = list(entity_names)
        self.relations: list[str] = list(relation_names)
        self.entity_to_id = {e: i for i, e in enumerate(self.entities)}
        self.relation_to_id = {r: i for i, r in enumerate(self.relations)}
        self.labels = dict(labels or {})
        self.spec = spec or DatasetSpec(name=name)
        self.sources = dict(sources or {})  # split -> file it was read from, for error messages
        self.dropped: dict[str, int] = {}
        self.splits: dict[str, torch.Tensor] = {}
        for split, triples in splits.items():
            self.splits[split] = self._encode(split, triples, unseen == "drop")
        for split in SPLITS:
            self.splits.setdefault(split, torch.empty((0, 3), dtype=torch.long))
        self._check_spec()

    # ------------------------------------------------------------------ building
    def _encode(self, split: str, triples: list[Triple], drop_unseen: bool) -> torch.Tensor:
        ent, rel = self.entity_to_id, self.relation_to_id
        ids = np.empty((len(triples), 3), dtype=np.int64)
        keep = np.ones(len(triples), dtype=bool)
        unseen: list[tuple[Triple, list[str]]] = []
        for i, (h, r, t) in enumerate(triples):
            hi, ri, ti = ent.get(h), rel.get(r), ent.get(t)
            if hi is None or ri is None or ti is None:
                keep[i] = False
                if len(unseen) < 3:
                    unseen.append(((h, r, t), [x for x, v in ((h, hi), (r, ri), (t, ti)) if v is None]))
                continue
            ids[i] = (hi, ri, ti)
        n_bad = int((~keep).sum())
        if n_bad:
            if not drop_unseen:
                source = self.sources.get(split)
                lines = _line_numbers(source, [triple for triple, _ in unseen]) if source else {}
                examples = "; ".join(
                    (f"line {lines[triple]}: " if triple in lines else "") + ", ".join(missing)
                    for triple, missing in unseen)
                raise DataError(
                    f"{source or split}: {n_bad} triple(s) use entities or relations that never occur in train "
                    f"(e.g. {examples}). No embedding can be learned for them: remove those "
                    "triples, or pass --unseen drop to skip them (or --unseen keep to add them to the "
                    "vocabulary untrained, as benchmark releases do)."
                )
            self.dropped[split] = n_bad
        return torch.from_numpy(ids[keep])

    def _check_spec(self) -> None:
        for attribute in self.spec.attributes:
            if attribute.relation not in self.relation_to_id:
                raise SpecError(self._unknown_relation_message(attribute.relation, f"attribute {attribute.name!r}"))
        if self.spec.target is not None and self.spec.target not in self.relation_to_id:
            raise SpecError(self._unknown_relation_message(self.spec.target, "target"))

    def _unknown_relation_message(self, relation: str, role: str) -> str:
        close = [r for r in self.relations if relation.lower().split("/")[-1] in r.lower()][:5]
        hint = f" Similar relations: {', '.join(close)}." if close else ""
        return (
            f"The {role} relation {relation!r} does not occur in the training triples of {self.name}."
            f"{hint} Run `python -m kgcore relations` on the data to list them."
        )

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_folder(
        cls,
        folder: str | os.PathLike,
        spec: DatasetSpec | None = None,
        labels_file: str | os.PathLike | None = None,
        unseen: str = "error",
        name: str | None = None,
    ) -> "KnowledgeGraph":
        """Load ``train/valid/test`` triples (``.txt``, ``.tsv`` or gzipped) from a folder.

        Labels come from ``labels_file`` (TSV ``id<TAB>label`` or JSON) when given, otherwise from the
        folder's ``labels.tsv``, ``entity2wikidata.json`` or ``FB15k_mid2name.txt`` if present.
        """
        folder = Path(folder)
        if folder.is_file():
            raise DataError(f"{folder} is a file; give the folder that holds train.txt (and valid.txt, test.txt).")
        if not folder.is_dir():
            raise DataError(f"Data folder {folder} does not exist. It must hold train.txt (and valid.txt, test.txt).")
        splits: dict[str, list[Triple]] = {}
        for split in SPLITS:
            path = _find_split_file(folder, split)
            if path is None:
                if split == "train":
                    raise DataError(
                        f"{folder}: no train.txt (or train.tsv, train.txt.gz). Put the training triples there, "
                        "one head<TAB>relation<TAB>tail per line."
                    )
                continue
            splits[split] = read_triples(path)
        labels = load_labels(labels_file) if labels_file else load_folder_labels(folder)
        sources = {split: str(_find_split_file(folder, split)) for split in splits}
        return cls(splits, labels=labels, spec=spec, name=name or (spec.name if spec else folder.name),
                   unseen=unseen, sources=sources)

    # ------------------------------------------------------------------ basic facts
    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def label(self, entity: str | int) -> str:
        """Readable label of an entity (id or name), falling back to the raw id."""
        if isinstance(entity, (int, np.integer)):
            entity = self.entities[int(entity)]
        if entity in self.spec.value_labels:
            return self.spec.value_labels[entity]
        return self.labels.get(entity, entity)

    def summary(self) -> dict[str, int]:
        return {
            "entities": self.num_entities,
            "relations": self.num_relations,
            **{f"{s}_triples": int(self.splits[s].shape[0]) for s in SPLITS},
        }

    def relation_id(self, relation: str) -> int:
        if relation not in self.relation_to_id:
            raise SpecError(self._unknown_relation_message(relation, "requested"))
        return self.relation_to_id[relation]

    @cached_property
    def all_triples(self) -> torch.Tensor:
        """Every known true triple (train, valid, test), the set filtered evaluation removes."""
        return torch.cat([self.splits[s] for s in SPLITS])

    # ------------------------------------------------------------------ people
    def _relation_pairs(self, relation: str, reversed_: bool) -> tuple[np.ndarray, np.ndarray]:
        """(person, value) entity-id pairs of one relation in the training graph."""
        train = self.splits["train"].numpy()
        rows = train[train[:, 1] == self.relation_to_id[relation]]
        if reversed_:
            return rows[:, 2], rows[:, 0]
        return rows[:, 0], rows[:, 2]

    @cached_property
    def people(self) -> torch.Tensor:
        """Entity ids of everyone with a sensitive attribute or a target fact in the training graph."""
        persons: set[int] = set()
        relations = [(a.relation, a.reversed) for a in self.spec.attributes]
        if self.spec.target:
            relations.append((self.spec.target, False))
        for relation, rev in relations:
            persons.update(self._relation_pairs(relation, rev)[0].tolist())
        return torch.tensor(sorted(persons), dtype=torch.long)

    def _table(self, name: str, relation: str, reversed_: bool) -> AttributeTable:
        person_col, value_col = self._relation_pairs(relation, reversed_)
        people = self.people.numpy()
        values, counts = np.unique(value_col, return_counts=True)
        order = np.lexsort((values, -counts))  # most people first, ties by id for determinism
        values = values[order]
        value_index = {int(v): j for j, v in enumerate(values)}
        person_index = {int(p): i for i, p in enumerate(people)}
        membership = torch.zeros((len(people), len(values)), dtype=torch.bool)
        if len(person_col):
            rows = torch.tensor([person_index[int(p)] for p in person_col])
            cols = torch.tensor([value_index[int(v)] for v in value_col])
            membership[rows, cols] = True
        return AttributeTable(
            name=name,
            relation_id=self.relation_to_id[relation],
            reversed=reversed_,
            person_ids=self.people.clone(),
            value_ids=torch.from_numpy(values.astype(np.int64)),
            value_labels=[self.label(int(v)) for v in values],
            membership=membership,
        )

    def attribute_table(self, name: str) -> AttributeTable:
        """People x values table of a sensitive attribute named in the spec."""
        attribute: Attribute = self.spec.attribute(name)
        cache = self.__dict__.setdefault("_attribute_tables", {})
        if name not in cache:
            cache[name] = self._table(name, attribute.relation, attribute.reversed)
        return cache[name]

    @cached_property
    def target_table(self) -> AttributeTable:
        """People x professions (the spec's target relation)."""
        if not self.spec.target:
            raise SpecError(f"{self.name}: the spec names no target relation (e.g. --target /people/person/profession).")
        return self._table(self.spec.target_name, self.spec.target, False)

    def target_counts(self, attribute: str) -> pd.DataFrame:
        """Per target value (profession): people in total and per attribute value (C_male, C_female, ...).

        Counts come from the training graph; a person with no value for the attribute counts in ``people``
        but in no value column (the ``unknown`` column).
        """
        target = self.target_table
        table = self.attribute_table(attribute)
        joint = target.membership.float().T @ table.membership.float()  # [T, V]
        frame = pd.DataFrame(
            joint.numpy().astype(np.int64),
            columns=[f"C_{label}" for label in table.value_labels],
        )
        frame.insert(0, "people", target.membership.sum(0).numpy().astype(np.int64))
        frame.insert(0, "label", target.value_labels)
        frame.insert(0, "entity", [self.entities[int(v)] for v in target.value_ids])
        frame["C_unknown"] = frame["people"] - target.membership.float().T.matmul(
            table.membership.any(1).float()).numpy().astype(np.int64)
        return frame


def _line_numbers(path: str, wanted: list[Triple]) -> dict[Triple, int]:
    """Line numbers of the first occurrence of some triples in a file (only for error messages)."""
    from .triples import read_bytes  # the same reading (gzip, checks) as the triples themselves

    targets, found = set(wanted), {}
    try:
        text = read_bytes(Path(path)).decode("utf-8", errors="replace")
    except DataError:
        return found
    for line_no, line in enumerate(text.split("\n"), start=1):
        fields = tuple(field.strip() for field in line.rstrip("\r").split("\t"))
        if fields in targets and fields not in found:
            found[fields] = line_no
    return found


def _find_split_file(folder: Path, split: str) -> Path | None:
    for suffix in (".txt", ".tsv", ".txt.gz", ".tsv.gz"):
        path = folder / f"{split}{suffix}"
        if path.exists():
            return path
    return None


def load_labels(path: str | os.PathLike) -> dict[str, str]:
    """Labels from ``id<TAB>label`` TSV, ``entity2wikidata.json`` style JSON, or ``{id: label}`` JSON."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"Labels file {path} not found.")
    from .triples import check_regular_file

    check_regular_file(path, "a labels file (id<TAB>label per line, or JSON)")
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise DataError(f"{path}: expected a JSON object mapping entity ids to labels.")
            return {k: (v.get("label") if isinstance(v, dict) else str(v)) for k, v in data.items()
                    if not isinstance(v, dict) or v.get("label")}
        labels: dict[str, str] = {}
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("\t")
            if not sep:
                raise DataError(f"{path}, line {line_no}: expected id<TAB>label.")
            labels[key] = value.replace("_", " ") if path.name == "FB15k_mid2name.txt" else value
        return labels
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text.") from exc
    except IsADirectoryError as exc:
        raise DataError(f"Labels file {path} is a folder; give a TSV (id<TAB>label) or JSON file.") from exc
    except OSError as exc:
        raise DataError(f"Labels file {path} cannot be read ({exc.strerror or exc}).") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno} ({exc.msg}).") from exc


def load_folder_labels(folder: Path) -> dict[str, str]:
    """Labels found in a data folder; richer sources override the fallback ones."""
    labels: dict[str, str] = {}
    for name in ("FB15k_mid2name.txt", "entity2wikidata.json", "labels.tsv"):
        path = folder / name
        if path.exists():
            labels.update(load_labels(path))
    return labels
