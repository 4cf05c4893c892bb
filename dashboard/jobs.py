"""Training jobs of the Train page, run in a background thread so that the page stays responsive, the
user can visit other pages meanwhile, and Stop cancels cleanly through kgcore.training's ``on_epoch``
(returning False ends training after the current epoch)."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgcore.errors import KGError

log = logging.getLogger("kgcore.dashboard")

_jobs: dict[str, "TrainingJob"] = {}
_jobs_lock = threading.Lock()


@dataclass
class TrainingJob:
    """One training run: its settings, live history and outcome (read by the page every second)."""

    id: str
    dataset_key: str
    run_name: str
    out: Path
    model_config: Any
    train_config: Any
    data: Any  # kgcore.data.datasets.DataSource
    graph: Any = field(repr=False, default=None)
    history: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"  # running, evaluating, done, cancelled, failed
    message: str = ""
    keep_partial: bool = False
    without_sensitive: bool = False
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = field(default=None, repr=False)
    lock: Any = field(default=None, repr=False)  # kgcore.run_folder.RunLock reserving ``out``

    @property
    def epochs(self) -> int:
        return int(self.train_config.epochs)

    @property
    def active(self) -> bool:
        return self.status in ("running", "evaluating")

    def stop(self, keep: bool) -> None:
        self.keep_partial = keep
        self.cancel.set()


def reserve(group: Path, wanted: str) -> tuple[str, Path, Any]:
    """A run folder of its own for a new job: ``group/wanted``, or ``wanted-2``, ``wanted-3``... when that
    name is taken or being written, locked for the job (``kgcore.run_folder.RunLock``) until it ends. A runs
    folder that cannot be written is found here, before any training, and said in one sentence."""
    from kgcore.run_folder import RunLock, check_writable

    if group.name == "datasets":  # that name holds uploaded graphs, whose folder is never searched for runs
        group = group.with_name("datasets-runs")
    try:
        check_writable(group / wanted)
    except KGError as exc:
        raise KGError(f"Trained models cannot be saved in {group.parent}: {exc} Set the KGCORE_RUNS environment "
                      "variable to a folder you can write to and restart the dashboard.") from None
    for attempt in range(1, 1000):
        name = wanted if attempt == 1 else f"{wanted}-{attempt}"
        folder = group / name
        if folder.exists():
            continue
        try:
            lock = RunLock(folder).acquire()
        except KGError:
            continue  # another job is writing it right now
        if folder.exists():  # finished by another job between the check and the lock
            lock.release()
            continue
        return name, folder, lock
    raise KGError(f"Every name like {wanted} is taken in {group}; choose another run name.")


def start(dataset_key: str, run_name: str, out: Path, model_config: Any, train_config: Any, data: Any,
          graph: Any, without_sensitive: bool = False, lock: Any = None) -> TrainingJob:
    """Start training in a background thread and return the job (``without_sensitive``: evaluate without the
    sensitive relations' triples). ``lock``: the folder's reservation (``reserve``), released when the job
    ends."""
    job = TrainingJob(id=uuid.uuid4().hex[:12], dataset_key=dataset_key, run_name=run_name, out=out,
                      model_config=model_config, train_config=train_config, data=data, graph=graph,
                      without_sensitive=without_sensitive, lock=lock)
    job.thread = threading.Thread(target=_work, args=(job,), name=f"kgcore-train-{job.id}", daemon=True)
    with _jobs_lock:
        _jobs[job.id] = job
    job.thread.start()
    return job


def get(job_id: str | None) -> TrainingJob | None:
    with _jobs_lock:
        return _jobs.get(job_id) if job_id else None


def name_for_epochs(name: str, planned: int, done: int) -> str:
    """A run name that says ``{planned}ep`` (the page's default names) rewritten to the epochs actually
    trained; other names are left as the user wrote them."""
    import re

    if planned == done:
        return name
    return re.sub(rf"(^|-){planned}ep(?=$|-)", rf"\g<1>{done}ep", name, count=1)


def _rename_partial(job: TrainingJob, done: int) -> None:
    """A run stopped early and kept is renamed after the epochs it trained (when its name said otherwise)."""
    name = name_for_epochs(job.run_name, job.epochs, done)
    target = job.out.with_name(name)
    if name != job.run_name and not target.exists():
        job.out = job.out.rename(target)
        job.run_name = name


def _work(job: TrainingJob) -> None:
    from kgcore.training.pipeline import train_and_save

    def on_epoch(record) -> bool:
        job.history.append({"epoch": record.epoch, "loss": record.loss, "seconds": record.seconds,
                            "valid_mrr": record.valid_mrr})
        return not job.cancel.is_set()

    def on_stage(stage: str) -> None:
        job.status = "evaluating"

    try:
        trained = train_and_save(job.out, job.model_config, job.train_config, job.data, job.graph, progress=False,
                                 on_epoch=on_epoch, on_stage=on_stage, splits=("test",),
                                 keep_cancelled=lambda: job.keep_partial, without_sensitive=job.without_sensitive,
                                 lock=job.lock)
        epochs = len(trained.result.history)
        if trained.path is None:
            job.status, job.message = "cancelled", f"Stopped after {epochs} of {job.epochs} epochs; nothing was saved."
            return
        if trained.result.cancelled:
            _rename_partial(job, epochs)
        job.status = "done"
        test = trained.metrics.get("test")
        job.message = (f"Saved {job.run_name} after {epochs} epochs"
                       + (" (stopped early by you)" if trained.result.cancelled else "")
                       + (f"; test MRR {test['mrr']:.3f}" if test else "") + ".")
    except KGError as exc:
        job.status, job.message = "failed", str(exc)
    except OSError as exc:  # the disk filled up or the folder went away while saving
        log.exception("training job %s could not save", job.id)
        job.status, job.message = "failed", (f"The model could not be saved in {job.out.parent} "
                                             f"({exc.strerror or exc}); free some space or make the folder "
                                             "writable, then train it again.")
    except Exception as exc:  # noqa: BLE001 - reported on the page, details in the log
        log.exception("training job %s failed", job.id)
        job.status, job.message = "failed", f"Training failed: {type(exc).__name__}: {exc}"
    finally:
        if job.lock is not None:
            job.lock.release()
        job.finished = time.time()
