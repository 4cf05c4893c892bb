"""Run folders: everything a trained model needs to be reloaded, evaluated and measured later.

A run folder holds ``config.json`` (model, training and data settings), ``metrics.json``,
``history.csv`` (one row per epoch), ``model.pt`` (a plain ``state_dict``, read with
``torch.load(weights_only=True)``) and the id maps ``entities.tsv`` / ``relations.tsv``. Every file is
written atomically, and an existing run is never overwritten unless asked.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from . import __version__
from .data.datasets import DataSource
from .errors import CheckpointError
from .data.graph import KnowledgeGraph
from .io import save_state_dict, write_json, write_text
from .models import KGEModel, ModelConfig, build_model
from .training.loop import TrainConfig, TrainResult

RUN_FILES = ("config.json", "metrics.json", "history.csv", "model.pt", "entities.tsv", "relations.tsv")


def vocabulary_digest(graph: KnowledgeGraph) -> str:
    """Fingerprint of the id maps: a checkpoint only makes sense with the exact same ids."""
    digest = hashlib.sha256()
    for name in graph.entities:
        digest.update(name.encode() + b"\n")
    digest.update(b"\0")
    for name in graph.relations:
        digest.update(name.encode() + b"\n")
    return digest.hexdigest()


@dataclass
class Run:
    path: Path
    model: KGEModel
    graph: KnowledgeGraph
    model_config: ModelConfig
    train_config: TrainConfig
    data: DataSource
    metrics: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def name(self) -> str:
        return self.path.name


def history_frame(result: TrainResult) -> pd.DataFrame:
    rows = [{"epoch": r.epoch, "loss": r.loss, "seconds": r.seconds, "valid_mrr": r.valid_mrr, **r.extras}
            for r in result.history]
    return pd.DataFrame(rows)


def holds_run(path: str | os.PathLike) -> bool:
    """Whether ``path`` already holds a (possibly incomplete) run that must not be overwritten silently."""
    path = Path(path)
    return (path / "model.pt").exists() or (path / "config.json").exists()


def check_run_destination(path: str | os.PathLike, overwrite: bool = False) -> None:
    """Refuse to write a run where a file is, or over an existing run unless ``overwrite`` (checked before
    training, so no training is lost to a wrong destination)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{path} is a file, not a run folder; choose another --out.")
    if holds_run(path) and not overwrite:
        raise CheckpointError(f"{path} already holds a run; choose another --out or pass --overwrite.")


def save_run(path: str | os.PathLike, model: KGEModel, graph: KnowledgeGraph, data: DataSource,
             train_config: TrainConfig, result: TrainResult | None = None,
             metrics: dict[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Write a run folder; refuses to replace an existing run unless ``overwrite``."""
    path = Path(path)
    check_run_destination(path, overwrite)
    path.mkdir(parents=True, exist_ok=True)
    config = {
        "kgcore_version": __version__,
        "model": model.config.to_dict(),
        "train": train_config.to_dict(),
        "data": data.to_dict(),
        "graph": {"name": graph.name, "num_entities": graph.num_entities, "num_relations": graph.num_relations,
                  "vocabulary_sha256": vocabulary_digest(graph)},
        "model_state": model.extra_state(),
    }
    write_text(path / "entities.tsv", "".join(f"{i}\t{e}\n" for i, e in enumerate(graph.entities)))
    write_text(path / "relations.tsv", "".join(f"{i}\t{r}\n" for i, r in enumerate(graph.relations)))
    history = history_frame(result) if result is not None else pd.DataFrame()
    write_text(path / "history.csv", history.to_csv(index=False))
    all_metrics = dict(metrics or {})
    if result is not None:
        all_metrics.setdefault("seconds_per_epoch", result.seconds_per_epoch)
        all_metrics.setdefault("epochs_trained", len(result.history))
        all_metrics.setdefault("best_epoch", result.best_epoch)
        all_metrics.setdefault("best_valid_mrr", result.best_valid_mrr)
        all_metrics.setdefault("stopped_early", result.stopped_early)
    write_json(path / "metrics.json", all_metrics)
    save_state_dict(path / "model.pt", model.state_dict())
    # config.json last: its presence marks a complete run.
    write_json(path / "config.json", config)
    return path


def update_metrics(path: str | os.PathLike, new: dict[str, Any]) -> dict[str, Any]:
    """Merge ``new`` into a run's metrics.json (atomically)."""
    path = Path(path)
    metrics = read_json(path / "metrics.json") if (path / "metrics.json").exists() else {}
    metrics.update(new)
    write_json(path / "metrics.json", metrics)
    return metrics


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing; is {path.parent} a run folder written by `kgcore train`?") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is corrupted ({exc}); retrain or restore the run.") from exc


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load weights safely (no pickled code) with a clear error for corrupted files."""
    if not path.exists():
        raise CheckpointError(f"{path} is missing; the run folder is incomplete.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError,
            KeyError, IndexError, TypeError, AttributeError) as exc:
        # torch.load reports damage in many ways (an empty file: a bare EOFError; text: a KeyError).
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"{path} is corrupted or not a kgcore checkpoint ({detail}); "
                              "retrain the run or restore model.pt.") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a state_dict of tensors.")
    return state


def load_run(path: str | os.PathLike, graph: KnowledgeGraph | None = None, device: str = "cpu") -> Run:
    """Reload a run folder; ``graph`` avoids reloading the data when the caller already has it."""
    path = Path(path)
    if not path.is_dir():
        what = "is a file, not a run folder" if path.exists() else "does not exist"
        raise CheckpointError(f"Run folder {path} {what}; give a folder written by `kgcore train --out`.")
    config = read_json(path / "config.json")
    try:
        model_config = ModelConfig.from_dict(config["model"])
        train_config = TrainConfig.from_dict(config["train"])
        data = DataSource.from_dict(config["data"])
        expected = config["graph"]
        expected_size = (int(expected["num_entities"]), int(expected["num_relations"]))
    except (KeyError, TypeError, ValueError) as exc:
        what = f"lacks {exc}" if isinstance(exc, KeyError) else f"is malformed ({exc})"
        raise CheckpointError(f"{path / 'config.json'} {what}; it was not written by `kgcore train` "
                              "(retrain the run or restore config.json).") from exc
    if graph is None:
        graph = data.load()
    if (graph.num_entities, graph.num_relations) != expected_size or \
            vocabulary_digest(graph) != expected.get("vocabulary_sha256", vocabulary_digest(graph)):
        raise CheckpointError(
            f"{path} was trained on a graph with {expected['num_entities']} entities and "
            f"{expected['num_relations']} relations, but the loaded graph has {graph.num_entities} and "
            f"{graph.num_relations} (or other ids). Load it with the data it was trained on."
        )
    model = build_model(model_config, graph)
    model.load_extra_state(config.get("model_state", {}))
    state = load_state_dict(path / "model.pt")
    own = model.state_dict()
    if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
        raise CheckpointError(f"{path / 'model.pt'} does not match a {model_config.model} model of dim "
                              f"{model_config.dim} on this graph; the checkpoint and config.json disagree.")
    model.load_state_dict(state)
    model.to(device).eval()
    metrics = read_json(path / "metrics.json") if (path / "metrics.json").exists() else {}
    history_path = path / "history.csv"
    try:
        history = pd.read_csv(history_path) if history_path.exists() and history_path.stat().st_size else pd.DataFrame()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        history = pd.DataFrame()
    return Run(path=path, model=model, graph=graph, model_config=model_config, train_config=train_config,
               data=data, metrics=metrics, history=history)
