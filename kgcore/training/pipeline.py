"""Train -> evaluate -> save, the one sequence behind ``python -m kgcore train``, ``demo --rebuild`` and the
dashboard's training jobs, and its continuation after an interruption (``resume_training``)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import CheckpointError, KGError
from .checkpoint import CHECKPOINT, TRAINING_JOB, load_training_state, write_training_job
from .divergence import check_metrics
from .evaluate import evaluate
from .loop import EpochRecord, TrainConfig, TrainResult, seed_everything, train

if TYPE_CHECKING:
    from ..data.datasets import DataSource
    from ..data.graph import KnowledgeGraph
    from ..models import KGEModel, ModelConfig
    from ..run_folder import RunLock


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
                   overwrite: bool = False, resume: bool = False, lock: "RunLock | None" = None,
                   add_files: Callable[["KGEModel", "KnowledgeGraph", Path], None] | None = None) -> TrainedRun:
    """Build ``model_config``'s model for the graph of ``source`` (``graph`` when already loaded), train it
    seeded by ``train_config.seed``, evaluate filtered link prediction on ``splits`` and write the run
    folder ``out`` (``kgcore.runs.save_run``); ``without_sensitive`` evaluates without the sensitive relations'
    triples (``kgcore.training.evaluate.evaluate``).

    Every setting and the destination are checked before the data is loaded. The folder is locked for the
    whole training (``lock``: a ``RunLock`` the caller already holds, e.g. the dashboard's reservation), so a
    second writer is refused at once. The training's state is checkpointed in ``out`` after every epoch
    (``kgcore.training.checkpoint``); ``resume`` continues from it. ``on_epoch`` can cancel (return False);
    a cancelled training is saved unless ``keep_cancelled`` is off (or, given as a function, says no when
    training ends: the dashboard's "Stop and discard"). ``on_stage`` hears "evaluating" and "saving";
    ``add_files(model, graph, folder)`` writes further files into the run before its manifest. A diverged
    training raises ``DivergedError`` and saves nothing."""
    from ..models import build_model, check_model_config
    from ..run_folder import RunLock, clean_leftovers
    from ..runs import check_run_destination, save_run

    out = Path(out)
    train_config.validate()
    check_model_config(model_config)
    own_lock = lock is None
    lock = RunLock(out).acquire() if own_lock else lock
    checkpoint = out / CHECKPOINT
    try:
        clean_leftovers(out)
        check_run_destination(out, overwrite, resume)
        resume_state = load_training_state(checkpoint) if resume else None
        graph = source.load() if graph is None else graph
        seed_everything(train_config.seed)
        model = build_model(model_config, graph)
        if not resume:
            _forget_training(out)
            write_training_job(out, {"model": model_config.to_dict(), "train": train_config.to_dict(),
                                     "data": source.to_dict(), "splits": list(splits),
                                     "without_sensitive": without_sensitive, "overwrite": overwrite})
        started = time.perf_counter()
        try:
            result = train(model, graph, train_config, progress=progress, on_epoch=on_epoch,
                           checkpoint_path=checkpoint, resume_state=resume_state)
        except KGError:
            _forget_training(out)
            raise
        metrics: dict[str, Any] = {"train_seconds": time.perf_counter() - started}
        if result.cancelled:
            metrics["cancelled"] = True
            if not (keep_cancelled() if callable(keep_cancelled) else keep_cancelled):
                _forget_training(out)
                return TrainedRun(model, result, metrics)
        if on_stage is not None:
            on_stage("evaluating")
        for split in splits:
            if graph.splits[split].shape[0]:
                begun = time.perf_counter()
                metrics[split] = evaluate(model, graph, split, progress=progress, without_sensitive=without_sensitive)
                metrics[f"{split}_eval_seconds"] = time.perf_counter() - begun
        check_metrics(metrics, "The new run's evaluation")
        if on_stage is not None:
            on_stage("saving")
        extra = (lambda folder: add_files(model, graph, folder)) if add_files is not None else None
        path = save_run(out, model, graph, source, train_config, result, metrics, overwrite=True, lock=lock,
                        add_files=extra)
        return TrainedRun(model, result, metrics, path)
    finally:
        if own_lock:
            lock.release()


def _forget_training(out: Path) -> None:
    """Remove a training's state from ``out`` (and ``out`` itself when nothing else is left in it)."""
    for name in (CHECKPOINT, TRAINING_JOB):
        (out / name).unlink(missing_ok=True)
    try:
        out.rmdir()
    except OSError:
        pass


def resume_training(out: str | Path, *, progress: bool = True,
                    on_epoch: Callable[[EpochRecord], bool | None] | None = None,
                    add_files: Callable[["KGEModel", "KnowledgeGraph", Path], None] | None = None) -> TrainedRun:
    """Continue the interrupted training in ``out`` from its last checkpoint, with the settings it was
    started with (``training.json``), and save its run there (``add_files`` as in ``train_and_save``)."""
    from ..data.datasets import DataSource
    from ..models import ModelConfig
    from ..runs import read_json

    out = Path(out)
    if not (out / TRAINING_JOB).is_file():
        what = "holds a finished run" if (out / "config.json").exists() else "holds no interrupted training"
        raise CheckpointError(f"{out} {what}, so there is nothing to resume; train it with --out instead.")
    job = read_json(out / TRAINING_JOB)
    try:
        model_config = ModelConfig.from_dict(job["model"])
        train_config = TrainConfig.from_dict(job["train"])
        source = DataSource.from_dict(job["data"])
        splits = tuple(job["splits"])
        without_sensitive, overwrite = bool(job["without_sensitive"]), bool(job["overwrite"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{out / TRAINING_JOB} is malformed ({exc}); start the training again with "
                              "--overwrite.") from exc
    return train_and_save(out, model_config, train_config, source, progress=progress, on_epoch=on_epoch,
                          splits=splits, without_sensitive=without_sensitive, overwrite=overwrite, resume=True,
                          add_files=add_files)
