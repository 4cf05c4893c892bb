"""The models kgcore trains, one registry line each: how people see it (``kgcore.models.catalogue``: name,
label, one-line description, colour), its typed options and how to build it.

The CLI's flags, the dashboard's Train controls, labels and colours are all generated from these entries,
so adding a model is one file (its class, options dataclass and ``ENTRY``), its facts in the catalogue and
one line below.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import KGError, SpecError
from .base import KGEModel, ModelConfig
from .catalogue import ModelEntry
from .options import build_options

if TYPE_CHECKING:
    from ..data.graph import KnowledgeGraph


def _entries() -> list[ModelEntry]:
    from . import basic, bose, kl

    return [
        basic.ENTRY,
        kl.ENTRY,
        bose.ENTRY,
    ]


MODELS: dict[str, ModelEntry] = {entry.name: entry for entry in _entries()}


def model_entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise KGError(f"Unknown model {name!r}; choose one of: {', '.join(MODELS)}.")
    return MODELS[name]


MAX_DIM = 100_000


def check_model_config(config: ModelConfig) -> Any:
    """Check every field of ``config`` without a graph (so before any data is loaded) and return the model's
    options instance. A ``KGError`` names the first problem."""
    from .interactions import INTERACTIONS

    if not isinstance(config.model, str):
        raise KGError(f"The model must be named by one of {', '.join(MODELS)} (got {config.model!r}).")
    entry = model_entry(config.model)
    if isinstance(config.dim, bool) or not isinstance(config.dim, int) or not 1 <= config.dim <= MAX_DIM:
        raise KGError(f"The embedding dimension must be a whole number from 1 to {MAX_DIM} (got {config.dim!r}).")
    if not isinstance(config.interaction, str) or config.interaction not in INTERACTIONS:
        raise KGError(f"Unknown interaction {config.interaction!r}; choose one of {', '.join(INTERACTIONS)}.")
    if not isinstance(config.entity_norm, bool):
        raise KGError(f"entity_norm must be true or false (got {config.entity_norm!r}).")
    if not isinstance(config.debias, (list, tuple)) or not all(isinstance(a, str) for a in config.debias):
        raise KGError(f"debias must be a list of attribute names (got {config.debias!r}).")
    if config.debias and not entry.debiasing:
        raise SpecError(f"The {entry.label} model removes no attribute; --debias {','.join(config.debias)} applies to "
                        + ", ".join(e.name for e in MODELS.values() if e.debiasing) + ".")
    if not isinstance(config.options, dict):
        raise KGError(f"The model's options must be a mapping of names to values (got {config.options!r}).")
    try:
        return build_options(entry.options, dict(config.options), entry.name)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"Options of the {entry.name} model are malformed ({exc}).") from exc


def build_model(config: ModelConfig, graph: "KnowledgeGraph") -> KGEModel:
    """An untrained model of ``config.model`` for ``graph``, its options checked."""
    entry = model_entry(config.model)
    options = check_model_config(config)
    return entry.build(config, graph, options)
