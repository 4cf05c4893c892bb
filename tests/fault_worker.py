"""What the processes of ``tests/test_faults.py`` run: the command line, or a loop of saves, in a child
process forked from a server that imported kgcore once (so each child starts in milliseconds and can be
killed at any moment of its work)."""
from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
from pathlib import Path

import torch

PRELOAD = ["kgcore.cli", "kgcore.runs", "kgcore.training.pipeline", "tests.fault_worker"]


def context() -> multiprocessing.context.BaseContext:
    """A forkserver that imported kgcore and nothing else (no threads started, so forking it is safe)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def run_cli(argv: list[str], log: str) -> None:
    """``python -m kgcore ARGV``, its stdout and stderr into ``log``; exits with its status."""
    from kgcore.cli import main

    torch.set_num_threads(1)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    Path(log).write_text(out.getvalue() + err.getvalue())
    os._exit(code)


def save_forever(sources: list[str], out: str) -> None:
    """Load the given runs and save them over ``out`` in turn, with overwrite, until killed."""
    from kgcore.runs import load_run, save_run

    torch.set_num_threads(1)
    runs = [load_run(path) for path in sources]
    while True:
        for run in runs:
            save_run(out, run.model, run.graph, run.data, run.train_config, metrics=run.metrics, overwrite=True)
