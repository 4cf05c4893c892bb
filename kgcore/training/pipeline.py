"""Train -> evaluate -> save, the one sequence behind ``python -m kgcore train``, ``demo --rebuild`` and the
dashboard's training jobs."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .evaluate import evaluate
from .loop import EpochRecord, TrainConfig, TrainResult, seed_everything, train

if TYPE_CHECKING:
    from ..data.datasets import DataSource
    from ..data.graph import KnowledgeGraph
    from ..models import KGEModel, ModelConfig

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainedRun:
    """What ``train_and_save`` did: the model, its training, its metrics and where it was saved (None when a
    cancelled training was not kept)."""

    model: "KGEModel"
    result: TrainResult
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def train_and_save(out: str | Path, model_config: "ModelConfig", train_config: TrainConfig, source: "DataSource",
                   graph: "KnowledgeGraph | None" = None, *, progress: bool = True,
                   on_epoch: Callable[[EpochRecord], bool | None] | None = None,
                   on_stage: Callable[[str], None] | None = None, splits: tuple[str, ...] = ("valid", "test"),
                   keep_cancelled: bool | Callable[[], bool] = True, without_sensitive: bool = False,
                   overwrite: bool = False) -> TrainedRun:
    """Build ``model_config``'s model for the graph of ``source`` (``graph`` when already loaded), train it
    seeded by ``train_config.seed``, evaluate filtered link prediction on ``splits`` and write the run
    folder ``out`` (``kgcore.runs.save_run``); ``without_sensitive`` evaluates without the sensitive relations'
    triples (``kgcore.training.evaluate.evaluate``).

    ``on_epoch`` can cancel (return False); a cancelled training is saved unless ``keep_cancelled`` is off
    (or, given as a function, says no when training ends: the dashboard's "Stop and discard").
    ``on_stage`` hears "evaluating" and "saving". The best (or latest) model so far is checkpointed in
    ``out`` while training, so an interrupted run keeps its progress; the checkpoint goes once the run is
    saved."""
    from ..models import build_model
    from ..runs import check_run_destination, save_run

    out = Path(out)
    check_run_destination(out, overwrite)
    train_config.validate()
    graph = source.load() if graph is None else graph
    seed_everything(train_config.seed)
    model = build_model(model_config, graph)
    started = time.perf_counter()
    checkpoint = out / CHECKPOINT
    result = train(model, graph, train_config, progress=progress, on_epoch=on_epoch, checkpoint_path=checkpoint)
    metrics: dict[str, Any] = {"train_seconds": time.perf_counter() - started}
    if result.cancelled:
        metrics["cancelled"] = True
        if not (keep_cancelled() if callable(keep_cancelled) else keep_cancelled):
            checkpoint.unlink(missing_ok=True)
            return TrainedRun(model, result, metrics)
    if on_stage is not None:
        on_stage("evaluating")
    for split in splits:
        if graph.splits[split].shape[0]:
            begun = time.perf_counter()
            metrics[split] = evaluate(model, graph, split, progress=progress, without_sensitive=without_sensitive)
            metrics[f"{split}_eval_seconds"] = time.perf_counter() - begun
    if on_stage is not None:
        on_stage("saving")
    path = save_run(out, model, graph, source, train_config, result, metrics, overwrite=overwrite)
    checkpoint.unlink(missing_ok=True)
    return TrainedRun(model, result, metrics, path)
