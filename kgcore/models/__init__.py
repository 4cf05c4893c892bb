"""Model registry: one name per model, built from a ModelConfig and the graph it is trained on."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..errors import KGError
from .base import KGEModel, ModelConfig, TransE

if TYPE_CHECKING:
    from ..data.graph import KnowledgeGraph

ModelFactory = Callable[[ModelConfig, "KnowledgeGraph"], KGEModel]

MODELS: dict[str, ModelFactory] = {
    "transe": lambda config, graph: TransE(graph.num_entities, graph.num_relations, config),
}


def register_model(name: str, factory: ModelFactory) -> None:
    MODELS[name] = factory


def build_model(config: ModelConfig, graph: "KnowledgeGraph") -> KGEModel:
    """Build an untrained model of ``config.model`` for ``graph``."""
    if config.model not in MODELS:
        raise KGError(f"Unknown model {config.model!r}; choose one of: {', '.join(sorted(MODELS))}.")
    return MODELS[config.model](config, graph)


__all__ = ["KGEModel", "ModelConfig", "TransE", "MODELS", "build_model", "register_model"]


# Debiased models, imported at the end: their modules import .base, never this package, so no import cycle.
from .bose import build_bose  # noqa: E402
from .kl import build_kl  # noqa: E402

register_model("kl", build_kl)
register_model("bose", build_bose)
