"""The people and sensitive attributes a debiasing model works on, resolved once from the training graph.

Both debiased models (``kl``, ``bose``) take ``ModelConfig.debias`` (attribute names from the dataset
spec) and need, per attribute, the value entities and which person holds which value. Gender in these
data is recorded with two values; nothing here assumes two: every attribute may have any number.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..errors import SpecError

if TYPE_CHECKING:
    from ..data.graph import AttributeTable, KnowledgeGraph


@dataclass(frozen=True)
class DebiasedAttribute:
    """One sensitive attribute as a model sees it (plain facts, JSON-friendly via ``to_dict``)."""

    name: str
    relation_id: int
    reversed: bool
    value_ids: tuple[int, ...]
    value_labels: tuple[str, ...]
    counts: tuple[int, ...]  # people holding each value in the training graph

    @property
    def num_values(self) -> int:
        return len(self.value_ids)

    def to_dict(self) -> dict:
        return {"name": self.name, "relation_id": self.relation_id, "reversed": self.reversed,
                "value_ids": list(self.value_ids), "value_labels": list(self.value_labels),
                "counts": list(self.counts)}


def debiased_tables(names: list[str], graph: "KnowledgeGraph", model: str) -> list["AttributeTable"]:
    """The attribute tables of ``names`` (``ModelConfig.debias``), with errors a user can act on."""
    if not names:
        known = ", ".join(graph.spec.attribute_names) or "none in this dataset's spec"
        raise SpecError(f"The {model} model removes sensitive attributes, but none was chosen: pass "
                        f"--debias ATTR[,ATTR] (attributes of this graph: {known}).")
    if len(set(names)) != len(names):
        raise SpecError(f"--debias names an attribute twice: {', '.join(names)}.")
    tables = [graph.attribute_table(name) for name in names]  # SpecError for unknown names
    for table in tables:
        if table.num_values < 2:
            raise SpecError(f"The attribute {table.name!r} has {table.num_values} value(s) in the training "
                            f"graph of {graph.name}; debiasing needs at least two.")
    return tables


def describe(table: "AttributeTable") -> DebiasedAttribute:
    return DebiasedAttribute(name=table.name, relation_id=int(table.relation_id), reversed=bool(table.reversed),
                             value_ids=tuple(int(v) for v in table.value_ids),
                             value_labels=tuple(table.value_labels),
                             counts=tuple(int(c) for c in table.counts()))


def person_rows(graph: "KnowledgeGraph") -> torch.Tensor:
    """[num_entities] row of each entity in the graph's people tables (-1 for entities that are not people)."""
    rows = torch.full((graph.num_entities,), -1, dtype=torch.long)
    rows[graph.people] = torch.arange(graph.people.numel())
    return rows


def entity_labels(table: "AttributeTable", num_entities: int) -> torch.Tensor:
    """[num_entities] value index of each person (the most common value they hold), -1 for none."""
    labels = torch.full((num_entities,), -1, dtype=torch.long)
    labels[table.person_ids] = table.single_label()
    return labels
