"""Results computed once when a run folder is written, read back instead of computed again.

``precomputed.json`` beside a run's files holds, for every attribute of the graph's spec, the per-run measures
of ``RUN_MEASURES`` (the numbers the dashboard's Compare page shows), the Embedding shift page's first
person (``kgcore.analysis.plane.most_swapped_person``) and the graph-level facts probe. The shipped demo
runs carry it (``python -m kgcore demo --rebuild``), so a class sees their numbers without waiting for
cross-validated classifiers to be fitted on the presenter's laptop.

The file is part of the run (written before its manifest and checked with it), so retraining a run never
carries old numbers over; the tests compare its numbers with a fresh computation, so a change in
``kgcore.analysis`` cannot leave the shipped ones stale unnoticed. Every function here is torch-free until
something has to be computed.
"""
from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .data.graph import KnowledgeGraph
    from .models.base import KGEModel

PRECOMPUTED_FILE = "precomputed.json"
FORMAT = 1

# Per-run, per-attribute measurements: name -> (kgcore module, function(model, graph, attribute=...)).
RUN_MEASURES = {
    "aggregate_bias": ("kgcore.analysis.aggregate", "aggregate_bias"),
    "leakage_probe": ("kgcore.analysis.probe", "leakage_probe"),
    "prediction_leakage": ("kgcore.analysis.probe", "prediction_leakage"),
    "score_difference": ("kgcore.analysis.residual", "score_difference"),
    "attribute_classifier": ("kgcore.analysis.residual", "attribute_classifier"),
}
# Keys that describe the computation rather than its result (wall-clock time): not compared by tests.
VOLATILE_KEYS = ("seconds",)


def compute_measure(name: str, model: "KGEModel", graph: "KnowledgeGraph", attribute: str) -> dict[str, Any]:
    """``RUN_MEASURES[name]`` computed now."""
    if name not in RUN_MEASURES:
        raise KeyError(f"No run measure {name!r}; there are: {', '.join(RUN_MEASURES)}.")
    module, function = RUN_MEASURES[name]
    return getattr(importlib.import_module(module), function)(model, graph, attribute=attribute)


def json_ready(value: Any) -> Any:
    """JSON-ready: numpy scalars and arrays as Python numbers and lists; NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if hasattr(value, "tolist"):
        return json_ready(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def precompute(model: "KGEModel", graph: "KnowledgeGraph") -> dict[str, Any]:
    """Everything ``precomputed.json`` holds for this model on this graph."""
    from .analysis.plane import most_swapped_person
    from .analysis.probe import facts_probe
    from .runs import vocabulary_digest

    attributes: dict[str, Any] = {}
    for attribute in graph.spec.attribute_names:
        entry: dict[str, Any] = {"measures": {}}
        for name in RUN_MEASURES:
            stored = _or_none(compute_measure, name, model, graph, attribute)
            if stored is not None:
                entry["measures"][name] = stored
        if graph.spec.target:
            entry["shift_person"] = _or_none(most_swapped_person, model, graph, attribute)
        facts = _or_none(facts_probe, graph, attribute=attribute)
        if facts is not None:
            entry["facts_probe"] = facts
        attributes[attribute] = entry
    return {"format": FORMAT, "vocabulary": vocabulary_digest(graph), "attributes": attributes}


def _or_none(function, *args, **kwargs) -> Any:
    """The JSON-ready result, or None where the graph does not allow the measure (a ``KGError``, e.g. a value
    held by too few people): nothing is stored then, and the dashboard computes it and shows why it cannot."""
    from .errors import KGError

    try:
        return json_ready(function(*args, **kwargs))
    except KGError:
        return None


def write_precomputed(model: "KGEModel", graph: "KnowledgeGraph", folder: str | Path) -> str:
    """Write ``precomputed.json`` into ``folder`` (a run being assembled); returns the file's name."""
    from .io import write_text

    write_text(Path(folder) / PRECOMPUTED_FILE,
               json.dumps(precompute(model, graph), indent=1, sort_keys=True, allow_nan=False) + "\n")
    return PRECOMPUTED_FILE


def read_precomputed(folder: str | Path) -> dict[str, Any] | None:
    """The run's precomputed results, or None when it has none (or an unreadable or older file: then the
    caller computes, which is always correct, only slower)."""
    try:
        data = json.loads((Path(folder) / PRECOMPUTED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("attributes"), dict):
        return None
    return data


def precomputed_entry(folder: str | Path, attribute: str) -> dict[str, Any] | None:
    """The precomputed results of one attribute, or None."""
    data = read_precomputed(folder)
    entry = (data or {}).get("attributes", {}).get(attribute)
    return entry if isinstance(entry, dict) else None


__all__ = ["PRECOMPUTED_FILE", "RUN_MEASURES", "VOLATILE_KEYS", "compute_measure", "json_ready", "precompute",
           "write_precomputed", "read_precomputed", "precomputed_entry"]
