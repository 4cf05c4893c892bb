"""Trained toy models for tests: one place that builds a model, trains it and, where a test needs one, writes
its run folder. The graphs come from ``tests/synthetic.py``.

``model_config`` is the only place the tests construct a ``ModelConfig`` from keywords: every model built
here goes through it, so a change to ``ModelConfig``'s fields is adapted in that one function.

Defaults (dim 32, 30 epochs, batch 128, Adam lr 0.02, seed 0, CPU) are the setting most tests use: a
few hundred milliseconds per model on the small generated graphs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgcore.data.datasets import DataSource
from kgcore.data.graph import KnowledgeGraph
from kgcore.models import KGEModel, ModelConfig, build_model
from kgcore.runs import save_run
from kgcore.training.loop import TrainConfig, TrainResult, seed_everything, train

DIM = 32
EPOCHS = 30
BATCH_SIZE = 128
LR = 0.02


def model_config(model: str = "transe", dim: int = DIM, **options: Any) -> ModelConfig:
    """The tests' one construction site of ``ModelConfig``: ``options`` (``interaction``, ``entity_norm``,
    ``debias``, ``options`` for the model's own settings, ...) go to it unchanged."""
    return ModelConfig(model=model, dim=dim, **options)


def untrained_model(graph: KnowledgeGraph, model: str = "transe", dim: int = DIM, seed: int = 0,
                    **options: Any) -> KGEModel:
    """A freshly initialised model, seeded like ``fit``: the same weights ``fit`` starts training from."""
    seed_everything(seed)
    return build_model(model_config(model, dim, **options), graph)


def train_config(epochs: int = EPOCHS, lr: float = LR, batch_size: int = BATCH_SIZE, seed: int = 0,
                 device: str = "cpu", **options: Any) -> TrainConfig:
    """``TrainConfig`` with the tests' defaults; ``options`` are its other fields (loss, negative_mode,
    eval_every, patience, withheld_relations, ...)."""
    return TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device, **options)


@dataclass
class Trained:
    """A model trained by ``fit``, what its training returned, and the settings it was trained with."""

    model: KGEModel
    result: TrainResult
    config: TrainConfig
    graph: KnowledgeGraph

    def save(self, folder: str | Path, source: DataSource, metrics: dict[str, Any] | None = None,
             overwrite: bool = False) -> Path:
        """Write the run folder (``kgcore.runs.save_run``) that loads back with ``source``'s graph."""
        return save_run(folder, self.model, self.graph, source, self.config, self.result, metrics,
                        overwrite=overwrite)


def fit(graph: KnowledgeGraph, model: str = "transe", dim: int = DIM, *, epochs: int = EPOCHS,
        seed: int = 0, lr: float = LR, batch_size: int = BATCH_SIZE, device: str = "cpu",
        training: dict[str, Any] | None = None, **model_options: Any) -> Trained:
    """Seed, build ``model`` and train it on ``graph`` in place (real training, no progress bar).

    ``training`` holds further ``TrainConfig`` fields (``{"loss": "nssa", "num_negatives": 8}``); every
    other keyword goes to ``ModelConfig`` through ``model_config``."""
    net = untrained_model(graph, model, dim, seed=seed, **model_options)
    config = train_config(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device, **(training or {}))
    result = train(net, graph, config, progress=False)
    return Trained(net, result, config, graph)


def trained_model(graph: KnowledgeGraph, model: str = "transe", dim: int = DIM, *, epochs: int = EPOCHS,
                  seed: int = 0, lr: float = LR, batch_size: int = BATCH_SIZE, device: str = "cpu",
                  training: dict[str, Any] | None = None, **model_options: Any) -> KGEModel:
    """``fit``'s model alone."""
    return fit(graph, model, dim, epochs=epochs, seed=seed, lr=lr, batch_size=batch_size, device=device,
               training=training, **model_options).model


def trained_run(folder: str | Path, source: DataSource, graph: KnowledgeGraph | None = None,
                evaluate_test: bool = False, **fit_options: Any) -> Path:
    """``fit`` a model on ``source``'s graph (or ``graph``, loaded from ``source``) and write its run folder;
    with ``evaluate_test`` the run's metrics hold the filtered test metrics, as ``kgcore train`` writes them."""
    graph = graph if graph is not None else source.load()
    trained = fit(graph, **fit_options)
    metrics = None
    if evaluate_test:
        from kgcore.training.evaluate import evaluate

        metrics = {"test": evaluate(trained.model, graph, "test")}
    return trained.save(folder, source, metrics)
