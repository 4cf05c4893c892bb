"""``train --resume``: a training interrupted after any epoch continues from its checkpoint and ends with the
very weights of an uninterrupted training with the same seed."""
from __future__ import annotations

import json
import random

import pytest
import torch

from kgcore.cli import main
from kgcore.data.datasets import DataSource
from kgcore.errors import CheckpointError
from kgcore.runs import load_run
from kgcore.training.pipeline import resume_training, train_and_save

from .factories import model_config, train_config
from .synthetic import GENDER, PROFESSION, SPEC

EPOCHS = 4


class Interrupted(KeyboardInterrupt):
    """What Ctrl-C (or a kill the training survives long enough to notice) raises mid-training."""


def interrupt_after(epoch: int):
    def on_epoch(record):
        if record.epoch == epoch:
            raise Interrupted()
    return on_epoch


def weights(run) -> dict[str, torch.Tensor]:
    return torch.load(run / "model.pt", map_location="cpu", weights_only=True)


SETTINGS = [
    pytest.param("transe", {}, id="transe-fused-adam"),
    pytest.param("transe", {"loss": "softplus", "optimizer": "adagrad", "eval_every": 1, "patience": 10},
                 id="transe-autograd-adagrad-validation"),
    pytest.param("kl", {"warmup_epochs": 1.5}, id="kl-warmup"),
    pytest.param("bose", {}, id="bose-discriminators"),
]


@pytest.mark.parametrize("model,training", SETTINGS)
def test_resumed_training_reaches_the_uninterrupted_weights(toy_dir, tmp_path, model, training):
    source = DataSource(data_dir=str(toy_dir), spec=SPEC)
    config = model_config(model, dim=8, debias=["gender"] if model in ("kl", "bose") else [])
    settings = dict(epochs=EPOCHS, batch_size=256, lr=0.02, seed=3, **training)
    whole = train_and_save(tmp_path / "whole", config, train_config(**settings), source, progress=False,
                           splits=("valid",))
    stop_at = random.Random(model).randint(1, EPOCHS - 1)
    with pytest.raises(Interrupted):
        train_and_save(tmp_path / "cut", config, train_config(**settings), source, progress=False,
                       splits=("valid",), on_epoch=interrupt_after(stop_at))
    assert (tmp_path / "cut" / "checkpoint.pt").is_file() and not (tmp_path / "cut" / "model.pt").exists()
    with pytest.raises(CheckpointError, match="unfinished training"):
        load_run(tmp_path / "cut")
    resumed = resume_training(tmp_path / "cut", progress=False)
    assert [r.epoch for r in resumed.result.history] == list(range(1, EPOCHS + 1))
    a, b = weights(whole.path), weights(resumed.path)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs after resuming at epoch {stop_at}"
    assert resumed.metrics["valid"]["mrr"] == whole.metrics["valid"]["mrr"]
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == sorted(p.name for p in whole.path.iterdir())


def test_resume_through_the_command_line(toy_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--data-dir", str(toy_dir), "--attribute", f"gender={GENDER}", "--target", PROFESSION,
            "--epochs", "3", "--dim", "8", "--batch-size", "256", "--quiet", "--out", str(out)]
    source = DataSource(data_dir=str(toy_dir), spec=SPEC)
    with pytest.raises(Interrupted):  # the same training as the command's, stopped after its first epoch
        train_and_save(out, model_config("transe", dim=8), train_config(epochs=3, batch_size=256, lr=0.01,
                       seed=0, device="auto"), source, progress=False, on_epoch=interrupt_after(1))
    capsys.readouterr()
    assert main(args) == 2
    assert "unfinished training" in capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == str(out)
    assert load_run(out).metrics["epochs_trained"] == 3
    assert main(["train", "--resume", str(out), "--quiet"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "never"), "--quiet"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
