"""What people see of each model kgcore trains: its name, label, one plain sentence, colour, and whether it
removes sensitive attributes, in the order lists show them (the Basic model first, then the debiasing methods).

Torch-free, so that what only names or colours a model (the dashboard's run list and first page) does not wait
for torch. A ``ModelEntry`` joins a model's facts to its options and builder; each model module makes its own
and ``kgcore.models.registry`` lists them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .options import OptionSpec, option_specs

if TYPE_CHECKING:
    from ..data.graph import KnowledgeGraph
    from .base import KGEModel, ModelConfig


@dataclass(frozen=True)
class ModelFacts:
    name: str
    label: str
    description: str  # one plain sentence for people who do not train models
    colour: str  # never one of the attribute values' colours (the dashboard keeps those apart)
    debiasing: bool = False  # removes the sensitive attributes named in ``ModelConfig.debias``


CATALOGUE: dict[str, ModelFacts] = {facts.name: facts for facts in (
    ModelFacts(
        name="transe", label="Basic", colour="#4c566a",
        description="Learns a vector for every entity and relation so that true facts score high; it learns "
                    "whatever patterns the graph holds, including who holds which profession."),
    ModelFacts(
        name="kl", label="KL-debiased", colour="#5e81ac", debiasing=True,
        description="Adds a training term that pulls the model's guess of each person's sensitive attribute "
                    "towards even odds, so their vector stops encoding it; facts on a whitelist (nun, soprano) may "
                    "keep their link to the recorded value (Fisher et al., EMNLP 2020)."),
    ModelFacts(
        name="bose", label="Bose & Hamilton filters", colour="#b48ead", debiasing=True,
        description="Passes people's vectors through filters trained against adversaries that try to read the "
                    "sensitive attribute from them, so the filters learn to hide it (Bose & Hamilton, ICML 2019)."),
)}


@dataclass(frozen=True)
class ModelEntry:
    facts: ModelFacts  # name, label, description, colour, debiasing (``kgcore.models.catalogue``)
    options: type  # dataclass of the model's own settings (``kgcore.models.options``)
    build: Callable[["ModelConfig", "KnowledgeGraph", Any], "KGEModel"]  # (config, graph, options) -> model

    name = property(lambda self: self.facts.name)
    label = property(lambda self: self.facts.label)
    description = property(lambda self: self.facts.description)
    colour = property(lambda self: self.facts.colour)
    debiasing = property(lambda self: self.facts.debiasing)

    def option_specs(self) -> list[OptionSpec]:
        return option_specs(self.options)
