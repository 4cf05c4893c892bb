"""Sweeps: grid syntax, naming and validation before any work; real sweeps on the toy graph run one after
another and through a real local Ray, with a failing run, a re-run that skips finished runs, and the
paper's Figures 3-4 and Table 1 drawn from the summary."""
from __future__ import annotations

import json
from pathlib import Path
import math

import pandas as pd
import pytest

from kgcore.cli import main
from kgcore.errors import SpecError
from kgcore.sweep import (PLAN, RESIDUAL, SUMMARY, combinations, load_summary, parse_axis, plan_sweep, run_name,
                          run_state, sweep_points, train_argv)

from .synthetic import GENDER, PROFESSION

TINY = ["--dim", "8", "--epochs", "2", "--batch-size", "256", "--device", "cpu", "--no-test"]


def data_flags(toy_dir) -> list[str]:
    return ["--data-dir", str(toy_dir), "--attribute", f"gender={GENDER}", "--target", PROFESSION]


def sweep_argv(toy_dir, out, *extra: str) -> list[str]:
    model = ["--model", "kl"] + ([] if "debias=" in " ".join(extra) else ["--debias", "gender"])
    return ["sweep", *data_flags(toy_dir), *model, *TINY, "--quiet", "--out", str(out), *extra]


# ------------------------------------------------------------------------------------------ grid and naming
def test_axis_values_carry_the_attribute_and_split_on_semicolons():
    assert parse_axis("kl-weight=gender=0,1,10").values == ("gender=0", "gender=1", "gender=10")
    assert parse_axis("--lr=0.01,0.001") == parse_axis("lr=0.01,0.001")
    assert parse_axis("kl-weight=gender=1,religion=1;gender=10,religion=100").values == (
        "gender=1,religion=1", "gender=10,religion=100")
    for bad in ("lr", "lr=", "=1,2", "lr=1,,2", "lr=1,1", "out=a,b", "Bad_Name=1"):
        with pytest.raises(SpecError):
            parse_axis(bad)


def test_combinations_names_and_command_lines():
    axes = [parse_axis("kl-weight=gender=0,10"), parse_axis("filtered-negatives=on,off"), parse_axis("seed=0,1")]
    combos = combinations(axes)
    assert len(combos) == 8 and combos[0] == {"kl-weight": "gender=0", "filtered-negatives": "on", "seed": "0"}
    assert combos[1]["seed"] == "1" and combos[-1]["kl-weight"] == "gender=10"  # first axis slowest
    assert run_name(combos[0]) == "kl-weight-gender-0__filtered-negatives-on__seed-0"
    assert run_name({"kl-weight": "gender=1,religion=100"}) == "kl-weight-gender-1+religion-100"
    assert len({run_name(c) for c in combos}) == 8
    argv = train_argv(["--model", "kl"], combos[1], Path("o/x"))
    assert argv == ["--model", "kl", "--kl-weight", "gender=0", "--filtered-negatives", "--seed", "1",
                    "--out", "o/x", "--quiet"]
    assert "--filtered-negatives" not in train_argv([], combos[2], Path("o"))


def test_every_combination_is_checked_by_trains_parser_before_any_work(tmp_path, toy_dir, capsys):
    fixed = [*data_flags(toy_dir), "--model", "kl", "--debias", "gender", *TINY]
    runs = plan_sweep(fixed, [parse_axis("kl-weight=gender=0,10"), parse_axis("seed=0,1")], tmp_path / "s")
    assert [r.name for r in runs][:2] == ["kl-weight-gender-0__seed-0", "kl-weight-gender-0__seed-1"]
    assert runs[0].debias == ["gender"] and not (tmp_path / "s").exists()
    with pytest.raises(SpecError, match="lr=-1"):
        plan_sweep(fixed, [parse_axis("lr=0.01,-1")], tmp_path / "s")
    with pytest.raises(SpecError, match="both swept and fixed"):
        plan_sweep([*fixed, "--seed", "3"], [parse_axis("seed=0,1")], tmp_path / "s")
    out = tmp_path / "bad"
    assert main(sweep_argv(toy_dir, out, "--grid", "kl-weight=gender=0,abc", "--executor", "local")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the run kl-weight=gender=abc") and not out.exists()
    assert main(sweep_argv(toy_dir, out, "--grid", "epochs=1,zero", "--executor", "local")) == 2
    assert "error:" in capsys.readouterr().err and not out.exists()


# ------------------------------------------------------------------------------------------ real sweeps
@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, toy_dir):
    out = tmp_path_factory.mktemp("sweeps") / "wkl"
    code = main(sweep_argv(toy_dir, out, "--grid", "kl-weight=gender=0,10", "--seeds", "0,1", "--executor", "local"))
    return code, out


def test_local_sweep_writes_runs_and_one_summary(local_sweep, capsys):
    code, out = local_sweep
    assert code == 0
    summary = pd.read_csv(out / SUMMARY)
    assert list(summary["run"]) == ["kl-weight-gender-0__seed-0", "kl-weight-gender-0__seed-1",
                                    "kl-weight-gender-10__seed-0", "kl-weight-gender-10__seed-1"]
    assert set(summary["status"]) == {"trained"} and list(summary["w_kl_gender"]) == [0.0, 0.0, 10.0, 10.0]
    for column in ("valid_mrr", "gender_difference", "gender_accuracy", "gender_most_frequent_rate"):
        assert summary[column].map(math.isfinite).all(), column
    assert (summary["gender_accuracy"].between(0, 1)).all()
    for name in summary["run"]:
        assert run_state(out / name) == "finished"
        residual = json.loads((out / name / RESIDUAL).read_text())
        assert residual["gender"]["people"] > 0
        config = json.loads((out / name / "config.json").read_text())
        assert config["model"]["options"]["kl_weight"]["gender"] in (0.0, 10.0)
        assert config["train"]["seed"] in (0, 1)
    assert set(json.loads((out / PLAN).read_text())["grid"]) == {"kl-weight", "seed"}
    # the seeds differ, and a KL weight of 10 changes the model
    assert summary.loc[0, "valid_mrr"] != summary.loc[1, "valid_mrr"]
    assert summary.loc[0, "gender_difference"] != summary.loc[2, "gender_difference"]


def test_rerun_skips_finished_runs_and_trains_only_missing_ones(local_sweep, toy_dir):
    _, out = local_sweep
    stamps = {p.name: (p / "model.pt").stat().st_mtime_ns for p in out.iterdir() if p.is_dir()}
    assert main(sweep_argv(toy_dir, out, "--grid", "kl-weight=gender=0,10", "--seeds", "0,1",
                           "--executor", "local")) == 0
    assert set(pd.read_csv(out / SUMMARY)["status"]) == {"skipped"}
    assert stamps == {p.name: (p / "model.pt").stat().st_mtime_ns for p in out.iterdir() if p.is_dir()}
    assert len(load_summary(out)) == 4


def test_a_failing_run_is_reported_and_the_others_complete(tmp_path, toy_dir, capsys):
    out = tmp_path / "fail"
    code = main(sweep_argv(toy_dir, out, "--grid", "debias=gender,nosuch", "--executor", "local"))
    assert code == 1
    summary = pd.read_csv(out / SUMMARY, keep_default_na=False)
    by_run = summary.set_index("run")
    assert by_run.loc["debias-gender", "status"] == "trained" and run_state(out / "debias-gender") == "finished"
    assert by_run.loc["debias-nosuch", "status"] == "failed" and "nosuch" in by_run.loc["debias-nosuch", "error"]
    assert not (out / "debias-nosuch").exists()
    err = capsys.readouterr().err
    assert "failed debias-nosuch:" in err and "error: 1 of 2 runs failed" in err


def test_sweep_points_and_figure(local_sweep):
    from kgcore.figures.sweep import sweep_figure

    _, out = local_sweep
    points = sweep_points(load_summary(out), "gender")
    assert list(points["x"]) == [0.0, 10.0] and list(points["runs"]) == [2, 2]
    assert points["accuracy_mean"].between(0, 1).all() and points["mrr_std"].notna().all()
    figure = sweep_figure(points, "gender")
    assert len(figure.data) == 4  # three panels and the most-frequent rate
    assert list(figure.data[0].x) == ["0", "10"]


# ------------------------------------------------------------------------------------------ Ray
@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'kgcore[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_sweep_equals_the_local_one_and_reports_a_failure(local_ray, local_sweep, tmp_path, toy_dir):
    _, local_out = local_sweep
    out = tmp_path / "ray"
    code = main(sweep_argv(toy_dir, out, "--grid", "kl-weight=gender=0,10", "--seeds", "0,1", "--executor", "ray",
                           "--workers", "2"))
    assert code == 0
    on_ray, here = pd.read_csv(out / SUMMARY), pd.read_csv(local_out / SUMMARY)
    assert set(on_ray["status"]) == {"trained"}
    for column in ("valid_mrr", "gender_difference", "gender_accuracy"):  # seeded: the same numbers
        assert on_ray[column].tolist() == pytest.approx(here[column].tolist(), abs=1e-6), column
    out = tmp_path / "ray-fail"
    assert main(sweep_argv(toy_dir, out, "--grid", "debias=nosuch,gender", "--executor", "ray")) == 1
    summary = pd.read_csv(out / SUMMARY, keep_default_na=False).set_index("run")
    assert summary.loc["debias-nosuch", "status"] == "failed" and "nosuch" in summary.loc["debias-nosuch", "error"]
    assert summary.loc["debias-gender", "status"] == "trained" and run_state(out / "debias-gender") == "finished"


def test_report_of_a_sweep(local_sweep, tmp_path):
    _, out = local_sweep
    path = tmp_path / "sweep.html"
    assert main(["report", "--sweep", str(out), "--out", str(path)]) == 0
    text = path.read_text()
    assert "w_KL (gender)" in text and "Classifier accuracy" in text and "kl-weight-gender-10__seed-1" in text
    assert text.count("plotly.js v") == 1  # the library embedded once (its banner names itself)


def test_dashboard_sweeps_page(local_sweep, monkeypatch):
    from streamlit.testing.v1 import AppTest

    _, out = local_sweep
    monkeypatch.setenv("KGCORE_RUNS", str(out.parent))
    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "dashboard" / "app.py"), default_timeout=240)
    at = at.switch_page("views/sweeps.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="sweep_folder").value == out
    assert at.selectbox(key="sweep_attr").value == "gender"
    assert len(at.dataframe) == 2


def test_killing_one_ray_task_leaves_the_others_runs_complete(local_ray, tmp_path, toy_dir):
    from kgcore.sweep_run import execute_run, run_ray

    fixed = [*data_flags(toy_dir), "--model", "kl", "--debias", "gender", *TINY]
    runs = plan_sweep(fixed, [parse_axis("seed=0,1,2")], tmp_path / "killed")
    jobs = [{"name": r.name, "argv": r.argv, "out": str(r.out), "attributes": ["gender"]} for r in runs]

    def killed_for_seed_1(**job):
        if job["name"] == "seed-1":  # the worker running this task dies mid-sweep
            import os
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        return execute_run(**job)

    ended = {name: (state, error) for name, state, error in run_ray(jobs, function=killed_for_seed_1)}
    assert ended["seed-0"] == ("trained", "") and ended["seed-2"] == ("trained", "")
    assert ended["seed-1"][0] == "failed" and ended["seed-1"][1]
    assert run_state(tmp_path / "killed" / "seed-0") == "finished" == run_state(tmp_path / "killed" / "seed-2")
    assert run_state(tmp_path / "killed" / "seed-1") == "new"


def test_rerun_resumes_an_interrupted_training(tmp_path, toy_dir):
    from kgcore.commands.common import data_source_from_args
    from kgcore.commands.train import model_config_from_args, parse_train_arguments, train_config_from_args
    from kgcore.training.pipeline import train_and_save

    out = tmp_path / "resumed"
    extra = ["--grid", "kl-weight=gender=10", "--executor", "local"]
    [run] = plan_sweep([*data_flags(toy_dir), "--model", "kl", "--debias", "gender", *TINY],
                       [parse_axis("kl-weight=gender=10")], out)
    args = parse_train_arguments(run.argv)

    def interrupted(record):
        raise RuntimeError("the machine went away")  # after the first epoch's checkpoint

    with pytest.raises(RuntimeError):
        train_and_save(run.out, model_config_from_args(args), train_config_from_args(args), data_source_from_args(args),
                       progress=False, on_epoch=interrupted)
    assert run_state(run.out) == "training"
    assert main(sweep_argv(toy_dir, out, *extra)) == 0
    summary = pd.read_csv(out / SUMMARY)
    assert list(summary["status"]) == ["resumed"] and run_state(run.out) == "finished"
    assert len(pd.read_csv(run.out / "history.csv")) == 2 and (run.out / RESIDUAL).is_file()
