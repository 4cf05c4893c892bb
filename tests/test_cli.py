"""The command line end to end: real training on a generated graph, run folders, evaluation, help texts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from kgcore.cli import COMMANDS, build_parser, main
from kgcore.runs import RUN_FILES, load_run

from .synthetic import GENDER, PROFESSION



def train_args(seed: int = 0) -> list[str]:
    return ["--attribute", f"gender={GENDER}", "--target", PROFESSION, "--epochs", "3", "--dim", "16",
            "--batch-size", "128", "--seed", str(seed), "--quiet"]


@pytest.fixture(scope="module")
def run_dir(toy_dir, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--data-dir", str(toy_dir), *train_args(), "--out", str(run)]) == 0
    return run


def _json_out(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_train_writes_every_run_file(run_dir):
    for name in RUN_FILES:
        assert (run_dir / name).is_file() and (run_dir / name).stat().st_size > 0, name
    assert not (run_dir / "checkpoint.pt").exists(), "the in-training checkpoint is removed at the end"
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")], "temporary files left behind"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["dim"] == 16 and config["train"]["epochs"] == 3 and config["train"]["seed"] == 0
    assert config["data"]["spec"]["target"] == PROFESSION
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 3 and 0 < metrics["test"]["mrr"] <= 1
    history = (run_dir / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,loss,seconds") and len(history) == 1 + 3
    entities = (run_dir / "entities.tsv").read_text().splitlines()
    graph = load_run(run_dir).graph
    assert [line.split("\t")[1] for line in entities] == graph.entities


def test_train_can_withhold_a_relation(toy_dir, tmp_path, capsys):
    blind = tmp_path / "blind"
    assert main(["train", "--data-dir", str(toy_dir), *train_args(), "--withhold", GENDER, "--out", str(blind)]) == 0
    config = json.loads((blind / "config.json").read_text())
    assert config["train"]["withheld_relations"] == [GENDER]
    run = load_run(blind)
    assert run.train_config.withheld_relations == [GENDER]
    capsys.readouterr()
    assert main(["train", "--data-dir", str(toy_dir), *train_args(), "--withhold", "/no/such/relation",
                 "--out", str(tmp_path / "unknown")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "/no/such/relation" in err and "Traceback" not in err


def test_kl_weights_per_attribute(toy_dir, tmp_path, capsys):
    """--kl-weight takes one weight for every debiased attribute or one per attribute; the trained run
    records them and trains each attribute's term with its own weight (a zero weight: no term at all)."""
    two = ["--attribute", f"gender={GENDER}", "--attribute", "birthplace=born_in", "--target", PROFESSION,
           "--epochs", "2", "--dim", "16", "--batch-size", "128", "--quiet", "--model", "kl",
           "--debias", "gender,birthplace"]
    out = tmp_path / "weighted"
    assert main(["train", "--data-dir", str(toy_dir), *two, "--kl-weight", "2,birthplace=0", "--out", str(out)]) == 0
    run = load_run(out)
    assert run.model.weights == [2.0, 0.0]
    assert json.loads((out / "config.json").read_text())["model"]["options"]["kl_weight"] == {"*": 2.0, "birthplace": 0.0}
    assert "kl_gender" in run.history.columns and "kl_birthplace" not in run.history.columns
    assert (run.history["kl_gender"] > 0).all()
    capsys.readouterr()
    for bad, says in [("gender=x", "'gender=x' is not a weight"), ("=1", "names no attribute"),
                      ("-1", "non-negative"), ("gender=1,gender=2", "given twice")]:
        assert main(["train", "--data-dir", str(toy_dir), *two, "--kl-weight", bad, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and says in err and "Traceback" not in err, (bad, err)
    assert main(["train", "--data-dir", str(toy_dir), *two, "--kl-weight", "religion=1", "--out",
                 str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "religion" in err and "not debiased" in err and "Traceback" not in err


def test_model_file_is_a_plain_state_dict(run_dir):
    state = torch.load(run_dir / "model.pt", weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    graph = load_run(run_dir).graph
    shapes = {tuple(v.shape) for v in state.values()}
    assert (graph.num_entities, 16) in shapes and (graph.num_relations, 16) in shapes


def test_evaluate_prints_the_saved_test_mrr(run_dir, capsys):
    metrics = _json_out(capsys, ["evaluate", str(run_dir)])
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["mrr"] == pytest.approx(saved["test"]["mrr"], abs=1e-9)
    assert set(metrics) >= {"mrr", "mean_rank", "hits@1", "hits@3", "hits@10", "head", "tail"}
    valid = _json_out(capsys, ["evaluate", str(run_dir), "--split", "valid"])
    assert valid["mrr"] == pytest.approx(saved["valid"]["mrr"], abs=1e-9)


def test_evaluate_one_relation(run_dir, capsys, toy_graph):
    metrics = _json_out(capsys, ["evaluate", str(run_dir), "--relation", PROFESSION])
    rel = toy_graph.relation_id(PROFESSION)
    n_test = int((toy_graph.splits["test"][:, 1] == rel).sum())
    assert n_test > 0 and metrics["relation"] == PROFESSION
    assert metrics["count"] == 2 * n_test and metrics["tail"]["count"] == n_test
    everything = _json_out(capsys, ["evaluate", str(run_dir)])
    assert everything["count"] > metrics["count"] and 0 < metrics["mrr"] <= 1
    raw = _json_out(capsys, ["evaluate", str(run_dir), "--relation", PROFESSION, "--unfiltered"])
    assert raw["mrr"] <= metrics["mrr"] + 1e-12  # filtering only removes competitors


def test_same_seed_gives_identical_weights(run_dir, toy_dir, tmp_path):
    again = tmp_path / "again"
    assert main(["train", "--data-dir", str(toy_dir), *train_args(), "--out", str(again)]) == 0
    a = torch.load(run_dir / "model.pt", weights_only=True)
    b = torch.load(again / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    other = tmp_path / "other"
    assert main(["train", "--data-dir", str(toy_dir), *train_args(seed=1), "--out", str(other)]) == 0
    c = torch.load(other / "model.pt", weights_only=True)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_relations_lists_relations_with_counts(toy_dir, toy_graph, capsys):
    capsys.readouterr()
    assert main(["relations", "--data-dir", str(toy_dir)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.strip().splitlines()]
    listed = {name: int(count) for count, name in rows}
    assert set(listed) == set(toy_graph.relations)
    train = toy_graph.splits["train"]
    for name, count in listed.items():
        assert count == int((train[:, 1] == toy_graph.relation_id(name)).sum())
    assert [int(c) for c, _ in rows] == sorted((int(c) for c, _ in rows), reverse=True)


KEY_FLAGS = {
    "train": ["--dataset", "--data-dir", "--attribute", "--target", "--model", "--epochs", "--dim",
              "--batch-size", "--seed", "--out", "--overwrite", "--unseen"],
    "evaluate": ["RUN_DIR", "--split", "--relation"],
    "relations": ["--dataset", "--data-dir"],
    "download": ["fb15k237", "--dest", "--url"],
}


def _registered_commands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_every_command_is_registered():
    assert set(_registered_commands()) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_of_every_command(command, capsys):
    if command not in _registered_commands():
        pytest.skip(f"{command} is not in this version")
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m kgcore {command}")
    for flag in KEY_FLAGS.get(command, []):
        assert flag in out, (command, flag)
    assert len(out.splitlines()) > 5


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in _registered_commands():
        assert command in out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", "3"])  # no data, no --out
    assert info.value.code == 2
    assert "required" in capsys.readouterr().err
