"""The models kgcore trains, one registry line each: a name, how people see it (label, one-line
description, colour), its typed options and how to build it.

The CLI's flags, the dashboard's Train controls, labels and colours are all generated from these entries,
so adding a model is one file (its class, options dataclass and ``ENTRY``) plus one line below.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..errors import KGError, SpecError
from .base import KGEModel, ModelConfig
from .options import OptionSpec, build_options, option_specs

if TYPE_CHECKING:
    from ..data.graph import KnowledgeGraph


@dataclass(frozen=True)
class ModelEntry:
    name: str
    label: str
    description: str  # one plain sentence for people who do not train models
    colour: str  # never one of the attribute values' colours (the dashboard keeps those apart)
    options: type  # dataclass of the model's own settings (``kgcore.models.options``)
    build: Callable[[ModelConfig, "KnowledgeGraph", Any], KGEModel]  # (config, graph, options) -> model
    debiasing: bool = False  # removes the sensitive attributes named in ``ModelConfig.debias``

    def option_specs(self) -> list[OptionSpec]:
        return option_specs(self.options)


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


def build_model(config: ModelConfig, graph: "KnowledgeGraph") -> KGEModel:
    """An untrained model of ``config.model`` for ``graph``, its options checked."""
    entry = model_entry(config.model)
    if config.debias and not entry.debiasing:
        raise SpecError(f"The {entry.label} model removes no attribute; --debias {','.join(config.debias)} applies to "
                        + ", ".join(e.name for e in MODELS.values() if e.debiasing) + ".")
    options = build_options(entry.options, dict(config.options), entry.name)
    return entry.build(config, graph, options)
