"""Executing a sweep's runs (``kgcore.sweep`` plans them): one function per run, and two ways to run them all.

``execute_run`` trains one run through ``kgcore.training.pipeline`` (the same sequence as ``train``), writes
the residual measures of the sweep's attributes into the run folder as ``residual.json`` (inside the run's
one-unit write, so a run is complete with its measures or absent), and pins itself to ``threads`` torch
threads. A finished run is skipped, an interrupted training is resumed from its checkpoint, a damaged
folder is reported and left alone.

``run_local`` runs them one after another in this process; ``run_ray`` submits one Ray task per run, each
reserving ``cpus`` of the cluster's cores (``num_cpus``) and using as many torch threads, on a local Ray
started for the sweep or on the cluster at ``address``. Both yield ``(name, status, error)`` as runs end, in
the order they end; a run that fails (an exception, or on Ray a worker that died) yields ``failed`` with a
one-line reason and the others go on. Ray is imported only by ``run_ray`` (``kgcore[ray]``).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import KGError
from .sweep import RESIDUAL, run_state

WORKER_NICENESS = "RAY_worker_niceness"  # read by the raylet a local ray.init starts
CLASSIFIER_SEED = 0  # the same folds and network seed for every run, so runs differ only by their model


def residual_writer(attributes: list[str]):
    """``add_files`` for the pipeline: the residual measures of ``attributes`` the graph records (an attribute
    that cannot be measured holds its reason under ``error``)."""
    from .analysis.residual import residual_measures
    from .io import write_json

    def write(model, graph, folder: Path) -> None:
        measures: dict[str, Any] = {}
        for attribute in attributes:
            try:
                result = residual_measures(model, graph, attribute, seed=CLASSIFIER_SEED)
            except KGError as exc:
                measures[attribute] = {"attribute": attribute, "error": str(exc)}
                continue
            measures[attribute] = {key: result[key] for key in
                                   ("attribute", "difference", "accuracy", "most_frequent_rate", "people", "values")}
        write_json(folder / RESIDUAL, measures)

    return write


def execute_run(name: str, argv: list[str], out: str, attributes: list[str], threads: int = 1) -> dict[str, Any]:
    """Train (or resume, or skip) one run of a sweep at ``threads`` torch threads; raises on failure."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        return _execute(name, argv, Path(out), attributes)
    finally:  # run_local shares its process with the caller
        torch.set_num_threads(before)


def _execute(name: str, argv: list[str], folder: Path, attributes: list[str]) -> dict[str, Any]:
    from .commands.common import data_source_from_args
    from .commands.train import model_config_from_args, parse_train_arguments, train_config_from_args
    from .training.pipeline import resume_training, train_and_save

    state = run_state(folder)
    started = time.perf_counter()
    if state == "finished":
        return {"name": name, "status": "skipped", "seconds": 0.0}
    if state == "blocked":
        raise KGError(f"{folder} holds a damaged run or files that are not a run; delete it to train the run again.")
    writer = residual_writer(attributes)
    if state == "training":
        resume_training(folder, progress=False, add_files=writer)
        status = "resumed"
    else:
        args = parse_train_arguments(argv)
        splits = ("valid",) if args.no_test else ("valid", "test")
        train_and_save(folder, model_config_from_args(args), train_config_from_args(args), data_source_from_args(args),
                       progress=False, splits=splits, without_sensitive=args.without_sensitive, add_files=writer)
        status = "trained"
    return {"name": name, "status": status, "seconds": time.perf_counter() - started}


def failure_line(exc: BaseException) -> str:
    """One line saying why a run failed (a Ray task's error reduced to the exception it wraps)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return first if isinstance(exc, KGError) else f"{type(exc).__name__}: {first}".rstrip(": ")


def run_local(jobs: list[dict[str, Any]]) -> Iterator[tuple[str, str, str]]:
    """The runs one after another in this process."""
    for job in jobs:
        try:
            result = execute_run(**job)
        except Exception as exc:  # noqa: BLE001 - one failed run must not stop the sweep
            yield job["name"], "failed", failure_line(exc)
        else:
            yield job["name"], result["status"], ""


def run_ray(jobs: list[dict[str, Any]], cpus: int = 1, workers: int = 1, address: str | None = None,
            function: Callable[..., dict[str, Any]] = execute_run) -> Iterator[tuple[str, str, str]]:
    """One Ray task per run (``function``, by default ``execute_run``, called with a job's keys), each
    reserving ``cpus`` cores and never retried: a task whose worker dies is a failed run. Without ``address``
    (and no Ray already started in this process) a local Ray of ``workers * cpus`` cores is started for the
    sweep and stopped after it; with ``address``, the runs' folders must be on storage every node of that
    cluster shares."""
    from .extras import require

    ray = require("ray")
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            # Ray lowers its workers' priority (nice 15) by default; a sweep's runs are the work itself, so on a
            # shared machine they compete like the same runs started one after another would.
            os.environ.setdefault(WORKER_NICENESS, "0")
            ray.init(num_cpus=max(1, workers) * max(1, cpus), include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=cpus, max_retries=0)(function)
        pending = {task.remote(**{**job, "threads": cpus}): job["name"] for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            name = pending.pop(done[0])
            try:
                result = ray.get(done[0])
            except Exception as exc:  # noqa: BLE001 - a failed task (or a dead worker) leaves the others
                yield name, "failed", failure_line(exc)
            else:
                yield name, result["status"], ""
    finally:
        if started:
            ray.shutdown()
