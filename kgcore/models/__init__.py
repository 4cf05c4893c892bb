"""Models: a representation (``base``: entity and relation tables), a score function
(``interactions``) and extra loss terms; one registry entry per model (``registry``).

- ``basic``: the Basic model (registry name ``transe``);
- ``kl``: KL-debiased, with attribute vectors (Fisher et al., EMNLP 2020);
- ``bose``: compositional adversarial filters (Bose & Hamilton, ICML 2019).
"""
from .base import KGEModel, ModelConfig
from .interactions import INTERACTIONS, Interaction, build_interaction
from .registry import MODELS, ModelEntry, build_model, check_model_config, model_entry

__all__ = ["INTERACTIONS", "MODELS", "Interaction", "KGEModel", "ModelConfig", "ModelEntry", "build_interaction",
           "build_model", "check_model_config", "model_entry"]
