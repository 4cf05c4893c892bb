"""The Basic model of the debiasing paper: entity and relation vectors scored by the interaction, nothing
else. Its registry name, ``transe``, is what saved runs and the papers call it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import KGEModel, ModelConfig
from .catalogue import CATALOGUE, ModelEntry

if TYPE_CHECKING:
    from ..data.graph import KnowledgeGraph


@dataclass
class BasicOptions:
    """The Basic model has no settings of its own."""


def build(config: ModelConfig, graph: "KnowledgeGraph", options: BasicOptions) -> KGEModel:
    return KGEModel(graph.num_entities, graph.num_relations, config)


ENTRY = ModelEntry(CATALOGUE["transe"], options=BasicOptions, build=build)
