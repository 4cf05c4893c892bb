"""``train --engine pbg``: kgcore's options as a PyTorch-BigGraph config, refusals before any work, and a real
PBG training in its own virtualenv ($PBG_PYTHON, default /work/pbg-venv/bin/python; skipped when absent)
imported as a run whose evaluation agrees with the metrics it was saved with."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kgcore.cli import main
from kgcore.engines.pbg import config_file_text, pbg_config
from kgcore.errors import SpecError
from kgcore.models import ModelConfig
from kgcore.runs import load_run
from kgcore.training.evaluate import evaluate
from kgcore.training.loop import TrainConfig

from .synthetic import GENDER, PROFESSION, people_triples, split_triples, write_graph

PBG_PYTHON = Path(os.environ.get("PBG_PYTHON", "/work/pbg-venv/bin/python"))
BASIC = ["--model", "transe", "--interaction", "transe-dot-reciprocal", "--optimizer", "adagrad", "--loss", "softmax",
         "--dim", "8", "--epochs", "2", "--batch-size", "100", "--lr", "0.1", "--negatives", "20", "--no-entity-norm"]


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory) -> Path:
    return write_graph(tmp_path_factory.mktemp("pbg_engine"), split_triples(people_triples(40, seed=1), seed=1))


def train_argv(graph_dir, out, *extra) -> list[str]:
    return ["train", "--data-dir", str(graph_dir), "--attribute", f"gender={GENDER}", "--target", PROFESSION,
            "--out", str(out), "--quiet", "--engine", "pbg", "--pbg-python", str(PBG_PYTHON), *extra]


def test_config_carries_kgcores_options_and_loads_as_pbgs_config_file(tmp_path):
    model = ModelConfig(model="transe", dim=12, interaction="transe-dot-reciprocal")
    train = TrainConfig(epochs=3, batch_size=64, lr=0.1, optimizer="adagrad", loss="margin", margin=2.0,
                        num_negatives=7)
    config = pbg_config(model, train, tmp_path)
    namespace: dict = {}
    exec(config_file_text(config), namespace)  # the file PBG's launcher loads
    loaded = namespace["get_torchbiggraph_config"]()
    assert loaded == config
    assert (loaded["dimension"], loaded["num_epochs"], loaded["batch_size"], loaded["num_uniform_negs"]) == (12, 3, 64, 7)
    assert (loaded["loss_fn"], loaded["margin"], loaded["max_norm"], loaded["comparator"]) == ("ranking", 2.0, 1.0, "dot")
    assert loaded["relations"][0]["operator"] == "translation" and loaded["dynamic_relations"] is True
    assert loaded["num_batch_negs"] == 0
    with pytest.raises(SpecError, match="Adagrad"):
        pbg_config(model, TrainConfig(optimizer="adam"), tmp_path)
    shared = pbg_config(model, TrainConfig(optimizer="adagrad", negative_mode="shared", num_negatives=100,
                                           batch_negatives=30), tmp_path)
    assert (shared["num_uniform_negs"], shared["num_batch_negs"]) == (70, 30)  # the same 100, 30 from the batch


@pytest.mark.parametrize("change, message", [
    (["--model", "kl", "--debias", "gender"], "Basic model"),
    (["--interaction", "transe-l1"], "transe-dot-reciprocal"),
    (["--optimizer", "adam"], "Adagrad"),
    (["--loss", "nssa"], "--loss"),
    (["--eval-every", "1"], "--eval-every"),
])
def test_refused_in_one_line_before_any_work(change, message, graph_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_argv(graph_dir, out, *BASIC, *change)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]
    assert not out.exists()


@pytest.mark.skipif(not PBG_PYTHON.exists(), reason=f"PyTorch-BigGraph's venv not found at {PBG_PYTHON} "
                                                    "(set $PBG_PYTHON; see bench/requirements-pbg.txt)")
def test_pbg_trains_and_comes_back_as_a_run(graph_dir, tmp_path, capsys):
    out = tmp_path / "pbg"
    assert main(train_argv(graph_dir, out, *BASIC)) == 0
    printed = json.loads(capsys.readouterr().out)
    run = load_run(out)
    assert run.model_config.interaction == "transe-dot-reciprocal" and run.model_config.dim == 8
    assert run.metrics["engine"]["name"] == "pytorch-biggraph" and (out / "pbg_config.py").is_file()
    again = evaluate(run.model, run.graph, "test", progress=False)
    assert again["mrr"] == pytest.approx(run.metrics["test"]["mrr"], abs=1e-9) == printed["test_mrr"]
    assert 0 < again["mrr"] <= 1
    # trained, not random: better than a model of the same shape that PBG never saw
    assert run.metrics["test"]["mrr"] > 2.0 / run.graph.num_entities
