"""A run folder is one unit: SIGKILL at random moments of training, evaluating and saving (new runs and
``--overwrite``), and concurrent writers, leave every folder either a complete, consistent run (the old one
or the new one, never a mix) or one that ``evaluate`` refuses in one line and the dashboard skips.

Children are forked from a server that imported kgcore once (``tests/fault_worker.py``), so a kill costs
milliseconds rather than an interpreter start."""
from __future__ import annotations

import random
import sys
import time
import types
from pathlib import Path

import pytest
import torch

from kgcore.errors import CheckpointError
from kgcore.run_folder import folder_kind, manifest_problem
from kgcore.runs import load_run

from . import fault_worker
from .synthetic import GENDER, PROFESSION

SEED = 15


@pytest.fixture(scope="module")
def ctx():
    """The forkserver context, with a bare ``__main__`` while these tests start children: Streamlit's AppTest
    (tests/test_dashboard.py) leaves a page script as ``__main__``, which multiprocessing would re-run in each."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield fault_worker.context()
    finally:
        sys.modules["__main__"] = main


def train_argv(data: Path, out: Path, dim: int, *extra: str) -> list[str]:
    return ["train", "--data-dir", str(data), "--attribute", f"gender={GENDER}", "--target", PROFESSION,
            "--epochs", "4", "--dim", str(dim), "--batch-size", "128", "--seed", "1", "--quiet",
            "--out", str(out), *extra]


def run_child(ctx, target, *args) -> tuple[int, float]:
    """Run ``target(*args)`` in a forked child to its end: (exit status, seconds)."""
    began = time.perf_counter()
    child = ctx.Process(target=target, args=args)
    child.start()
    child.join(120)
    assert child.exitcode is not None, "child did not finish"
    return child.exitcode, time.perf_counter() - began


def kill_after(ctx, seconds: float, target, *args) -> int | None:
    """Start ``target(*args)``, SIGKILL it after ``seconds`` (or let it end first): its exit status."""
    child = ctx.Process(target=target, args=args)
    child.start()
    child.join(seconds)
    if child.exitcode is None:
        child.kill()
        child.join()
    return child.exitcode


def weights_of(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "model.pt", map_location="cpu", weights_only=True)


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def assert_whole_or_refused(folder: Path, references: dict[str, dict[str, torch.Tensor]]) -> str:
    """The folder is one of the reference runs, whole and readable, or refused by ``load_run`` (the loader
    of ``evaluate``, ``bias`` and the dashboard) with its manifest or its absence saying why. Returns which."""
    kind = folder_kind(folder)
    if kind in ("absent", "empty", "training"):
        with pytest.raises(CheckpointError):
            load_run(folder)
        return kind
    assert kind == "run", f"{folder} holds {kind}"
    try:
        run = load_run(folder)
    except CheckpointError:
        assert manifest_problem(folder) or not (folder / "manifest.json").exists()
        return "refused"
    state = run.model.state_dict()
    matches = [name for name, reference in references.items() if same_weights(state, reference)]
    assert len(matches) == 1, f"{folder}: the weights are none of the reference runs'"
    assert run.model_config.dim == state["entity.weight"].shape[1]
    assert 0 <= run.metrics["test"]["mrr"] <= 1
    assert manifest_problem(folder) is None
    return matches[0]


def no_leftovers(folder: Path) -> None:
    hidden = [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")]
    assert not hidden, f"leftovers beside {folder}: {hidden}"
    if folder.is_dir():
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def references(ctx, toy_dir, tmp_path_factory):
    """Two complete runs written by the command line (dims 8 and 12) and how long a training takes."""
    root = tmp_path_factory.mktemp("faults")
    seconds = {}
    for dim in (8, 12):
        code, seconds[dim] = run_child(ctx, fault_worker.run_cli, train_argv(toy_dir, root / f"d{dim}", dim),
                                       str(root / f"d{dim}.log"))
        assert code == 0, (root / f"d{dim}.log").read_text()
    return root, {f"d{dim}": weights_of(root / f"d{dim}") for dim in (8, 12)}, max(seconds.values())


@pytest.mark.slow
def test_sigkill_during_training_and_overwrite(ctx, toy_dir, tmp_path, references):
    """30 trainings over an existing run with --overwrite, each killed at a random moment (the first child
    runs to its end): the folder always holds the old run or the new, whole. An interrupted training left
    inside resumes to the new run's exact weights."""
    root, reference, seconds = references
    rng = random.Random(SEED)
    out = tmp_path / "run"
    outcomes, resumed = [], 0
    for attempt in range(30):
        code, _ = run_child(ctx, fault_worker.run_cli, train_argv(toy_dir, out, 8, "--overwrite"),
                            str(tmp_path / "old.log"))
        assert code == 0, (tmp_path / "old.log").read_text()
        kill_after(ctx, rng.uniform(0.0, 1.3 * seconds), fault_worker.run_cli,
                   train_argv(toy_dir, out, 12, "--overwrite"), str(tmp_path / "new.log"))
        outcomes.append(assert_whole_or_refused(out, reference))
        if (out / "training.json").exists() and (out / "checkpoint.pt").exists() and resumed < 5:
            code, _ = run_child(ctx, fault_worker.run_cli, ["train", "--resume", str(out), "--quiet"],
                                str(tmp_path / "resume.log"))
            assert code == 0, (tmp_path / "resume.log").read_text()
            assert same_weights(weights_of(out), reference["d12"])
            resumed += 1
    assert set(outcomes) <= {"d8", "d12"}, outcomes
    assert "d8" in outcomes and "d12" in outcomes, "kills should land both before and after the swap"
    code, _ = run_child(ctx, fault_worker.run_cli, train_argv(toy_dir, out, 8, "--overwrite"), str(tmp_path / "x.log"))
    assert code == 0
    no_leftovers(out)


@pytest.mark.slow
def test_sigkill_during_a_first_training(ctx, toy_dir, tmp_path, references):
    """10 first trainings into a new folder killed at random moments: nothing, an unfinished training that
    evaluate refuses and --resume completes, or the whole run."""
    root, reference, seconds = references
    rng = random.Random(SEED + 1)
    for attempt in range(10):
        out = tmp_path / f"run{attempt}"
        kill_after(ctx, rng.uniform(0.0, 1.2 * seconds), fault_worker.run_cli, train_argv(toy_dir, out, 12),
                   str(tmp_path / "new.log"))
        outcome = assert_whole_or_refused(out, reference)
        assert outcome in ("absent", "empty", "training", "d12"), outcome
        if outcome == "training" and (out / "checkpoint.pt").exists():
            code, _ = run_child(ctx, fault_worker.run_cli, ["train", "--resume", str(out), "--quiet"],
                                str(tmp_path / "resume.log"))
            assert code == 0, (tmp_path / "resume.log").read_text()
            assert same_weights(weights_of(out), reference["d12"])


@pytest.mark.slow
def test_sigkill_during_repeated_saves(ctx, tmp_path, references):
    """20 loops saving two runs over one folder in turn, each killed at a random moment: always one of the
    two runs, whole; the next writer clears what the killed one left."""
    root, reference, _ = references
    rng = random.Random(SEED + 2)
    out = tmp_path / "saved"
    seen = set()
    for attempt in range(20):
        kill_after(ctx, rng.uniform(0.3, 1.5), fault_worker.save_forever, [str(root / "d8"), str(root / "d12")],
                   str(out))
        seen.add(assert_whole_or_refused(out, reference))
    assert seen <= {"d8", "d12"} and len(seen) == 2, seen
    kill_after(ctx, 0.5, fault_worker.save_forever, [str(root / "d8")], str(out))
    assert_whole_or_refused(out, reference)


@pytest.mark.slow
def test_concurrent_trainings_into_one_folder(ctx, toy_dir, tmp_path, references):
    """Two trainings started together into one folder: one is refused at once (never both succeed with a
    mix); the folder holds the survivor's run, whole."""
    _, reference, _ = references
    for attempt in range(3):
        out = tmp_path / f"both{attempt}"
        children = [ctx.Process(target=fault_worker.run_cli,
                                args=(train_argv(toy_dir, out, dim, "--overwrite"), str(tmp_path / f"{dim}.log")))
                    for dim in (8, 12)]
        for child in children:
            child.start()
        for child in children:
            child.join(120)
        codes = [child.exitcode for child in children]
        logs = [(tmp_path / f"{dim}.log").read_text() for dim in (8, 12)]
        outcome = assert_whole_or_refused(out, reference)
        assert outcome in ("d8", "d12")
        if codes == [0, 0]:  # one finished before the other took the folder: the later one's run is there
            continue
        assert sorted(codes) == [0, 2], logs
        refused = logs[codes.index(2)]
        assert "being written by another kgcore training" in refused and refused.count("\n") == 1
        assert outcome == ("d8", "d12")[codes.index(0)]
