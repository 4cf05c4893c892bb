"""Mistakes a careful user makes, each answered by one ``error:`` line before any work (or, for a training
that diverges, at the epoch it does) and never by a traceback, a hang or a result that cannot be true.

``CASES`` is the regression table (command, what its one line must say); the property test feeds every
numeric flag of ``train`` the values that break programs (0, negatives, NaN, infinities, huge numbers,
words) and asks for a clean success or one error line."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from kgcore.cli import build_parser, main
from kgcore.run_folder import RunLock, write_manifest

from .synthetic import GENDER, PROFESSION

SPEC = ["--attribute", f"gender={GENDER}", "--target", PROFESSION]
SMALL = ["--epochs", "1", "--dim", "4", "--batch-size", "256", "--quiet"]


def outcome(capsys, argv: list[str]) -> tuple[int, str]:
    """(exit status, stderr) of the command line run in this process; argparse's exits included."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def world(toy_dir, tmp_path_factory) -> dict[str, Path]:
    """A run to break copies of, a file, and a data folder whose valid.txt is a pipe."""
    root = tmp_path_factory.mktemp("settings")
    run = root / "run"
    assert main(["train", "--data-dir", str(toy_dir), *SPEC, *SMALL, "--out", str(run)]) == 0
    (root / "file.txt").write_text("a file\n")
    fifo = root / "fifo_data"
    fifo.mkdir()
    shutil.copy(toy_dir / "train.txt", fifo / "train.txt")
    shutil.copy(toy_dir / "test.txt", fifo / "test.txt")
    os.mkfifo(fifo / "valid.txt")
    (root / "notes").mkdir()
    (root / "notes" / "metrics.json").write_text("{}")
    return {"data": toy_dir, "run": run, "root": root, "fifo": fifo}


def broken_run(world, tmp_path: Path, damage: str) -> Path:
    """A copy of the world's run with one thing wrong; ``manifest`` rewritten where the damage is to be
    judged by the file's content (a run from before manifests would have none)."""
    run = tmp_path / "broken"
    shutil.copytree(world["run"], run)
    config = json.loads((run / "config.json").read_text())
    if damage == "model null":
        config["model"] = None
    elif damage == "dim abc":
        config["model"]["dim"] = "abc"
    if damage in ("model null", "dim abc"):
        (run / "config.json").write_text(json.dumps(config))
    elif damage == "config folder":
        (run / "config.json").unlink()
        (run / "config.json").mkdir()
    elif damage == "mrr 2":
        metrics = json.loads((run / "metrics.json").read_text())
        metrics["test"]["mrr"] = 2.0
        (run / "metrics.json").write_text(json.dumps(metrics))
    elif damage == "nan weights":
        state = torch.load(run / "model.pt", weights_only=True)
        state["entity.weight"][:] = float("nan")
        torch.save(state, run / "model.pt")
    elif damage == "entities reordered":
        lines = (run / "entities.tsv").read_text().splitlines()
        lines[0], lines[1] = lines[1].replace("1\t", "0\t", 1), lines[0].replace("0\t", "1\t", 1)
        (run / "entities.tsv").write_text("\n".join(lines) + "\n")
    elif damage == "weights swapped":
        state = torch.load(run / "model.pt", weights_only=True)
        state["entity.weight"] = state["entity.weight"].flip(0).contiguous()
        torch.save(state, run / "model.pt")
        return run  # the manifest stays: it must catch this
    write_manifest(run)
    return run


TRAIN_CASES = [  # (flags beside a valid training, what the one line says)
    (["--dim", "0"], "embedding dimension must be a whole number"),
    (["--dim", "-5"], "embedding dimension must be a whole number"),
    (["--dim", "1000000"], "embedding dimension must be a whole number"),
    (["--epochs", "0"], "epochs must be between 1"),
    (["--lr", "nan"], "learning rate must be a finite number"),
    (["--lr", "inf"], "learning rate must be a finite number"),
    (["--lr", "0"], "learning rate must be above 0"),
    (["--lr", "1e38"], "training diverged at epoch 1"),
    (["--optimizer", "sgd", "--lr", "1e300"], "learning rate 1e+300 (sgd) is likely too large"),
    (["--margin", "nan"], "margin must be a finite number"),
    (["--loss", "nssa", "--adversarial-temperature", "nan"], "adversarial temperature must be a finite number"),
    (["--eval-every", "-1"], "eval_every"),
    (["--patience", "-1"], "patience"),
    (["--negatives", "0"], "num_negatives"),
    (["--negative-mode", "shared", "--negatives", "4", "--batch-negatives", "5"], "batch_negatives"),
    (["--seed", "-1"], "seed must be between 0"),
    (["--warmup-epochs", "inf"], "warmup_epochs must be a finite number"),
    (["--device", "tpu"], "device must be auto, cpu, cuda or cuda:N"),
    (["--dim", "abc"], "argument --dim: invalid int value"),
    (["--model", "transe", "--debias", "gender"], "removes no attribute"),
    (["--model", "bose", "--debias", "gender", "--gamma", "inf"], "--gamma of the bose model must be a finite"),
    (["--model", "kl", "--debias", "gender", "--kl-weight", "nan"], "weights must be finite"),
    (["--attribute", f"job={PROFESSION}"], "the target are the same relation"),
]
if not torch.cuda.is_available():
    TRAIN_CASES.append((["--device", "cuda"], "torch sees no CUDA GPU"))


@pytest.mark.parametrize("flags,says", TRAIN_CASES, ids=[" ".join(f) for f, _ in TRAIN_CASES])
def test_bad_training_settings_are_one_line(world, tmp_path, capsys, flags, says):
    out = tmp_path / "out"
    line = one_error_line(*outcome(capsys, ["train", "--data-dir", str(world["data"]), *SPEC, *SMALL, *flags,
                                            "--out", str(out)]))
    assert says in line
    assert not out.exists(), "a refused or diverged training leaves no folder"


def out_cases(world) -> list[tuple[str, str]]:
    root = world["root"]
    return [(str(root / "file.txt" / "run"), "is a file, so"), ("/proc/kgcore-run", "Cannot write in /proc"),
            (str(root / "file.txt"), "is a file, not a run folder"),
            (str(root / "notes"), "holds files that are not a kgcore run (metrics.json)"),
            (str(world["run"]), "already holds a run")]


@pytest.mark.parametrize("index", range(5))
def test_bad_output_folders_are_refused_before_training(world, capsys, index):
    out, says = out_cases(world)[index]
    before = {p.name: p.read_bytes() for p in Path(out).iterdir()} if Path(out).is_dir() else None
    line = one_error_line(*outcome(capsys, ["train", "--data-dir", str(world["data"]), *SPEC, *SMALL,
                                            "--out", out]))
    assert says in line
    if before is not None:
        assert {p.name: p.read_bytes() for p in Path(out).iterdir()} == before


def test_a_pipe_in_place_of_a_data_file_is_refused(world, tmp_path, capsys):
    line = one_error_line(*outcome(capsys, ["train", "--data-dir", str(world["fifo"]), *SPEC, *SMALL,
                                            "--out", str(tmp_path / "out")]))
    assert "valid.txt" in line and "not a regular file" in line


def test_a_folder_being_written_is_refused(world, tmp_path, capsys):
    out = tmp_path / "busy"
    with RunLock(out):
        line = one_error_line(*outcome(capsys, ["train", "--data-dir", str(world["data"]), *SPEC, *SMALL,
                                                "--out", str(out)]))
    assert "being written by another kgcore training" in line


READ_CASES = [("model null", "config.json is malformed"), ("dim abc", "embedding dimension must be a whole"),
              ("config folder", "config.json in the run folder is a folder"),
              ("mrr 2", "test.mrr is 2, outside [0, 1]"), ("nan weights", "non-finite weights"),
              ("entities reordered", "entities.tsv does not list the graph's ids"),
              ("weights swapped", "model.pt does not match the run's manifest")]


@pytest.mark.parametrize("damage,says", READ_CASES, ids=[d for d, _ in READ_CASES])
def test_readers_refuse_a_damaged_run_in_one_line(world, tmp_path, capsys, damage, says):
    run = broken_run(world, tmp_path, damage)
    for command in (["evaluate", str(run)], ["bias", str(run), "--attribute", "gender"]):
        assert says in one_error_line(*outcome(capsys, command))


def numeric_flags() -> list[str]:
    parser = build_parser()
    train = next(a for a in parser._actions if a.dest == "command").choices["train"]
    return sorted({a.option_strings[0] for a in train._actions if a.type in (int, float) and a.option_strings})


BAD_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e30", "99999999999999999999", "abc", ""]


@pytest.mark.parametrize("flag", numeric_flags())
def test_no_number_breaks_a_training_flag(world, tmp_path, capsys, flag):
    """Every value either trains a run whose metrics are numbers in range or is one error line."""
    model = {"--kl-top-values": "kl", "--gamma": "bose", "--d-steps": "bose", "--d-lr": "bose"}.get(flag)
    extra = ["--model", model, "--debias", "gender"] if model else []
    for value in BAD_NUMBERS:
        out = tmp_path / f"run{BAD_NUMBERS.index(value)}"
        code, err = outcome(capsys, ["train", "--data-dir", str(world["data"]), *SPEC, *SMALL, *extra,
                                     f"{flag}={value}", "--out", str(out)])
        if code == 0:
            metrics = json.loads((out / "metrics.json").read_text())
            assert 0 <= metrics["valid"]["mrr"] <= 1, (flag, value)
        else:
            one_error_line(code, err)
