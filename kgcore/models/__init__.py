"""Models: a representation (``base``: entity and relation tables), a score function
(``interactions``) and extra loss terms; one registry entry per model (``registry``), what people see of each
(``catalogue``, torch-free).

- ``basic``: the Basic model (registry name ``transe``);
- ``kl``: KL-debiased, with attribute vectors (Fisher et al., EMNLP 2020);
- ``bose``: compositional adversarial filters (Bose & Hamilton, ICML 2019).
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

# Loaded on first use: they import torch, which what only names a model (``catalogue``) does not need.
_LAZY = {"KGEModel": "base", "ModelConfig": "base", "INTERACTIONS": "interactions", "Interaction": "interactions",
         "build_interaction": "interactions", "MODELS": "registry", "ModelEntry": "catalogue",
         "build_model": "registry", "check_model_config": "registry", "model_entry": "registry"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["INTERACTIONS", "MODELS", "Interaction", "KGEModel", "ModelConfig", "ModelEntry", "build_interaction",
           "build_model", "check_model_config", "model_entry"]
