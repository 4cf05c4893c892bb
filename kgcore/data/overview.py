"""What a graph holds, in the numbers an overview shows: its sizes, the names in its spec, and the people per
recorded value of each sensitive attribute. Plain JSON, so a shipped graph's overview can be stored beside it
(the demo assets' ``graph_overview.json``) and shown without building the graph."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import SpecError

if TYPE_CHECKING:
    from .graph import KnowledgeGraph


def graph_overview(graph: "KnowledgeGraph") -> dict[str, Any]:
    """Sizes (``entities``, ``relations``, ``<split>_triples``, ``people``, ``professions``: values of the
    spec's target), the spec's ``attributes``, ``target`` and ``target_name``, and under ``counts`` per
    attribute its ``values`` (most common first), the ``people`` holding each, and how many people have
    none recorded (``missing``)."""
    counts = {}
    for attribute in graph.spec.attribute_names:
        table = graph.attribute_table(attribute)
        counts[attribute] = {"values": list(table.value_labels), "people": [int(n) for n in table.counts().tolist()],
                             "missing": int((~table.membership.any(1)).sum())}
    return {**graph.summary(), "people": int(graph.people.numel()),
            "professions": int(graph.target_table.num_values) if graph.spec.target else 0,
            "attributes": list(graph.spec.attribute_names), "target": graph.spec.target,
            "target_name": graph.spec.target_name, "counts": counts}


def attribute_counts(overview: dict[str, Any], attribute: str) -> tuple[list[str], list[int], int]:
    """From a ``graph_overview``: the values of ``attribute`` (most common first), the people holding each,
    and how many people have none recorded."""
    if attribute not in overview["counts"]:
        raise SpecError(f"This graph's spec names no sensitive attribute {attribute!r} (it names: "
                        f"{', '.join(overview['attributes']) or 'none'}).")
    counts = overview["counts"][attribute]
    return list(counts["values"]), list(counts["people"]), int(counts["missing"])
