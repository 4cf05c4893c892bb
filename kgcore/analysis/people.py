"""Naming people and attribute values the way every analysis does: an entity id, an entity name
or a unique label; values by label, entity or any-case label."""
from __future__ import annotations

import numpy as np

from ..errors import KGError, SpecError
from ..data.graph import AttributeTable, KnowledgeGraph


def preview(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def unique_value_labels(table: AttributeTable, graph: KnowledgeGraph) -> list[str]:
    """Value labels, made unique (two entities with one label get their ids appended)."""
    labels = list(table.value_labels)
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [label if seen[label] == 1 else f"{label} ({graph.entities[int(v)]})"
            for label, v in zip(labels, table.value_ids)]


def value_index(value: str, labels: list[str], entities: list[str], attribute: str) -> int:
    if value in labels:
        return labels.index(value)
    if value in entities:
        return entities.index(value)
    lowered = [label.lower() for label in labels]
    if value.lower() in lowered and lowered.count(value.lower()) == 1:
        return lowered.index(value.lower())
    raise SpecError(f"The attribute {attribute!r} has no value {value!r} in the training graph; "
                    f"values: {preview(labels)}.")


def held_values(table: AttributeTable, pid: int) -> set[int]:
    row = (table.person_ids == pid).nonzero()
    if not row.numel():
        return set()
    return set(table.membership[int(row[0, 0])].nonzero().flatten().tolist())


def resolve_person(graph: KnowledgeGraph, person: int | str) -> int:
    if isinstance(person, (int, np.integer)):
        pid = int(person)
        if not 0 <= pid < graph.num_entities:
            raise KGError(f"Entity id {pid} is out of range (0..{graph.num_entities - 1}).")
        return pid
    if person in graph.entity_to_id:
        return graph.entity_to_id[person]
    people = graph.people.tolist()
    matches = [p for p in people if graph.label(p) == person]
    if not matches:
        matches = [p for p in people if graph.label(p).lower() == str(person).lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise KGError(f"No person {person!r} in {graph.name}; give an entity id, an entity name or a label.")
    names = ", ".join(graph.entities[p] for p in matches[:5])
    raise KGError(f"{len(matches)} people are labelled {person!r} ({names}); give the entity name instead.")
