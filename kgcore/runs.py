"""Run folders: everything a trained model needs to be reloaded, evaluated and measured later.

A run folder holds ``config.json`` (model, training and data settings), ``metrics.json``,
``history.csv`` (one row per epoch), ``model.pt`` (a plain ``state_dict``, read with
``torch.load(weights_only=True)``), the id maps ``entities.tsv`` / ``relations.tsv`` and ``manifest.json``
(every file's size and SHA-256). The folder is written and replaced as one unit (``kgcore.run_folder``),
and an existing run is never overwritten unless asked.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch

from . import __version__
from .data.datasets import DataSource
from .errors import CheckpointError, KGError
from .data.graph import KnowledgeGraph
from .io import save_state_dict, write_json, write_text
from .models import KGEModel, ModelConfig, build_model, check_model_config
from .run_folder import (MANIFEST, TRAINING_FILES, RunLock, check_writable, clean_leftovers, commit_run_folder,
                         folder_kind, foreign_files, read_run_files)
from .training.divergence import check_metrics, check_weights
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
    return folder_kind(Path(path)) == "run"


def check_run_destination(path: str | os.PathLike, overwrite: bool = False, resume: bool = False) -> None:
    """Refuse to write a run where a file is, into a folder of other files, over an existing run (or an
    unfinished training) unless ``overwrite`` (or ``resume``), or where nothing can be written: checked
    before training, so no training is lost to a wrong destination."""
    path = Path(path)
    kind = folder_kind(path)
    if kind == "file":
        raise CheckpointError(f"{path} is a file, not a run folder; choose another --out.")
    if kind == "other":
        shown = foreign_files(path)
        raise CheckpointError(f"{path} holds files that are not a kgcore run ({', '.join(shown[:3])}"
                              f"{', ...' if len(shown) > 3 else ''}); choose a new or empty folder for the run.")
    if kind == "run" and not overwrite:
        raise CheckpointError(f"{path} already holds a run; choose another --out or pass --overwrite.")
    if kind == "training" and not (overwrite or resume):
        raise CheckpointError(f"{path} holds an unfinished training; continue it with `train --resume {path}` or "
                              "start again with --overwrite.")
    check_writable(path)


def save_run(path: str | os.PathLike, model: KGEModel, graph: KnowledgeGraph, data: DataSource,
             train_config: TrainConfig, result: TrainResult | None = None,
             metrics: dict[str, Any] | None = None, overwrite: bool = False, lock: RunLock | None = None,
             add_files: Callable[[Path], None] | None = None) -> Path:
    """Write a run folder as one unit (``kgcore.run_folder``); refuses to replace an existing run unless
    ``overwrite``. ``lock`` is the caller's ``RunLock`` on ``path`` when it already holds one (a training
    holds it from its start); ``add_files(folder)`` writes further files into the run before its manifest."""
    path = Path(path)
    all_metrics = dict(metrics or {})
    if result is not None:
        all_metrics.setdefault("seconds_per_epoch", result.seconds_per_epoch)
        all_metrics.setdefault("epochs_trained", len(result.history))
        all_metrics.setdefault("best_epoch", result.best_epoch)
        all_metrics.setdefault("best_valid_mrr", result.best_valid_mrr)
        all_metrics.setdefault("stopped_early", result.stopped_early)
    check_metrics(all_metrics, "The new run's metrics")
    state = model.state_dict()
    check_weights(state, "The model to save")
    config = {
        "kgcore_version": __version__,
        "model": model.config.to_dict(),
        "train": train_config.to_dict(),
        "data": data.to_dict(),
        "graph": {"name": graph.name, "num_entities": graph.num_entities, "num_relations": graph.num_relations,
                  "vocabulary_sha256": vocabulary_digest(graph)},
        "model_state": model.extra_state(),
    }
    history = history_frame(result) if result is not None else pd.DataFrame()

    def assemble(folder: Path) -> None:
        write_text(folder / "entities.tsv", "".join(f"{i}\t{e}\n" for i, e in enumerate(graph.entities)))
        write_text(folder / "relations.tsv", "".join(f"{i}\t{r}\n" for i, r in enumerate(graph.relations)))
        write_text(folder / "history.csv", history.to_csv(index=False))
        write_json(folder / "metrics.json", all_metrics)
        save_state_dict(folder / "model.pt", state)
        write_json(folder / "config.json", config)
        if add_files is not None:
            add_files(folder)

    own_lock = lock is None
    lock = RunLock(path).acquire() if own_lock else lock
    try:
        clean_leftovers(path)
        check_run_destination(path, overwrite, resume=True)
        return commit_run_folder(path, assemble)
    finally:
        if own_lock:
            lock.release()


def update_metrics(path: str | os.PathLike, new: dict[str, Any]) -> dict[str, Any]:
    """Merge ``new`` into a run's metrics.json, the run rewritten as one unit with a new manifest."""
    path = Path(path)
    with RunLock(path):
        clean_leftovers(path)
        files = read_run_files(path, RUN_FILES)
        metrics = parse_json(files["metrics.json"], path / "metrics.json") if "metrics.json" in files else {}
        metrics.update(new)
        check_metrics(metrics, "The updated metrics")

        def assemble(folder: Path) -> None:
            for name, data in files.items():
                if name != MANIFEST:
                    (folder / name).write_bytes(data)
            write_json(folder / "metrics.json", metrics)

        commit_run_folder(path, assemble)
    return metrics


def parse_json(data: bytes | None, path: Path) -> Any:
    """JSON read from a run's file (``data`` None: the file is missing)."""
    if data is None:
        raise CheckpointError(f"{path} is missing; is {path.parent} a run folder written by `kgcore train`?")
    try:
        return json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is corrupted ({exc}); retrain or restore the run.") from exc


def read_json(path: Path) -> Any:
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a file; retrain or restore the run.")
    try:
        return parse_json(path.read_bytes(), path)
    except FileNotFoundError:
        return parse_json(None, path)


def load_state_dict(path: Path, data: bytes | None = None) -> dict[str, torch.Tensor]:
    """Load weights safely (no pickled code) with a clear error for corrupted files; ``data`` holds the
    file's bytes when they were read already (``kgcore.run_folder.read_run_files``)."""
    if data is None and not path.is_file():
        raise CheckpointError(f"{path} is missing; the run folder is incomplete.")
    try:
        state = torch.load(io.BytesIO(data) if data is not None else path, map_location="cpu", weights_only=True)
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
    """Reload a run folder, read as one snapshot and checked against its manifest; ``graph`` avoids
    reloading the data when the caller already has it."""
    path = Path(path)
    files = read_run_files(path, RUN_FILES + TRAINING_FILES)
    if "config.json" not in files and "training.json" in files:
        raise CheckpointError(f"{path} holds an unfinished training, not a run; continue it with "
                              f"`train --resume {path}`.")
    config = parse_json(files.get("config.json"), path / "config.json")
    try:
        if not isinstance(config, dict):
            raise TypeError("it does not hold a JSON object")
        model_config = ModelConfig.from_dict(config["model"])
        check_model_config(model_config)
        train_config = TrainConfig.from_dict(config["train"])
        data = DataSource.from_dict(config["data"])
        expected = config["graph"]
        expected_size = (int(expected["num_entities"]), int(expected["num_relations"]))
    except (KeyError, TypeError, ValueError, AttributeError, KGError) as exc:
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
    check_id_map(files.get("entities.tsv"), graph.entities, path / "entities.tsv")
    check_id_map(files.get("relations.tsv"), graph.relations, path / "relations.tsv")
    model = build_model(model_config, graph)
    model.load_extra_state(config.get("model_state", {}))
    if "model.pt" not in files:
        raise CheckpointError(f"{path / 'model.pt'} is missing; the run folder is incomplete.")
    state = load_state_dict(path / "model.pt", files["model.pt"])
    own = model.state_dict()
    if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
        raise CheckpointError(f"{path / 'model.pt'} does not match a {model_config.model} model of dim "
                              f"{model_config.dim} on this graph; the checkpoint and config.json disagree.")
    check_weights(state, path / "model.pt")
    model.load_state_dict(state)
    model.to(device).eval()
    metrics = parse_json(files["metrics.json"], path / "metrics.json") if "metrics.json" in files else {}
    if not isinstance(metrics, dict):
        raise CheckpointError(f"{path / 'metrics.json'} does not hold a mapping of metrics; retrain the run.")
    check_metrics(metrics, path / "metrics.json")
    try:
        raw_history = files.get("history.csv")
        history = pd.read_csv(io.BytesIO(raw_history)) if raw_history else pd.DataFrame()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        history = pd.DataFrame()
    return Run(path=path, model=model, graph=graph, model_config=model_config, train_config=train_config,
               data=data, metrics=metrics, history=history)


def check_id_map(data: bytes | None, names: list[str], path: Path) -> None:
    """A run's ``entities.tsv`` / ``relations.tsv`` (when present) must list the graph's ids in order."""
    if data is None:
        return
    try:
        rows = [line.split("\t", 1)[1] for line in data.decode("utf-8").splitlines()]
    except (UnicodeDecodeError, IndexError) as exc:
        raise CheckpointError(f"{path} is damaged; retrain the run or restore the file.") from exc
    if rows != list(names):
        raise CheckpointError(f"{path} does not list the graph's ids the model was trained with; the run folder "
                              "is mixed or damaged: retrain the run.")
