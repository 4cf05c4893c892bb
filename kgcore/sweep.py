"""Sweeps: one training per point of a grid over ``train``'s options, each written as a normal run folder,
read back into one summary table.

A grid is a list of axes, each a ``train`` flag and its values (``--grid kl-weight=gender=0,1,10,100``,
``--seeds 0,1,2``); every combination of values is one run, named from the values it was given
(``kl-weight-gender-10__seed-1``). Each run's command line is the sweep's fixed ``train`` flags plus its
values, parsed by ``train``'s own parser and checked (model and training settings) for every combination
before anything is trained, so a bad value is one ``error:`` line and no wasted work.

The summary is read from the run folders, not from the execution that wrote them: a re-run that skips the
finished runs still reports them. Per run it holds the varied values, the filtered MRR and, per measured
attribute, the debiasing paper's two measures of what is left of it (``kgcore.analysis.residual``: the
difference in scores, the classifier accuracy and the most-frequent rate beside it), stored in each run as
``residual.json``, and the KL weight the run gave that attribute (``w_kl_<attr>``), the x axis of the
paper's Figures 3-4. This module executes nothing (``kgcore.sweep_run`` does); it needs no Ray.
"""
from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from .errors import KGError, SpecError
from .run_folder import MANIFEST, folder_kind, manifest_problem

PLAN = "sweep.json"
SUMMARY = "summary.csv"
RESIDUAL = "residual.json"
# Flags a sweep sets itself for each run, so neither a grid nor the fixed flags may give them.
RESERVED = ("out", "resume", "overwrite", "quiet")
ON, OFF = "on", "off"  # values of a switch (a flag without a value, e.g. --filtered-negatives)
MEASURES = ("difference", "accuracy", "most_frequent_rate")


@dataclass(frozen=True)
class Axis:
    """One option of ``train`` (its flag without the dashes) and the values it takes, as text."""

    name: str
    values: tuple[str, ...]


@dataclass
class SweepRun:
    """One point of the grid: its name, its values per axis, its ``train`` command line and its folder."""

    name: str
    values: dict[str, str]
    argv: list[str]
    out: Path
    debias: list[str] = field(default_factory=list)


def parse_axis(text: str) -> Axis:
    """``NAME=V1,V2,...``; values that hold commas themselves are separated by ``;`` instead
    (``kl-weight=gender=1,religion=1;gender=10,religion=100``). ``KEY=V1,V2,...`` where only the first value
    names a key carries it over: ``kl-weight=gender=0,1,10`` is gender=0, gender=1 and gender=10."""
    name, sep, rest = str(text).partition("=")
    name = name.strip().lstrip("-")
    if not sep or not name or not rest.strip():
        raise SpecError(f"--grid {text!r} must look like NAME=V1,V2 (a train flag and its values), e.g. "
                        "kl-weight=gender=0,1,10 or lr=0.01,0.001.")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise SpecError(f"--grid {text!r}: {name!r} is not a train flag name (like lr or kl-weight).")
    if name in RESERVED:
        raise SpecError(f"--grid {text!r}: the sweep sets --{name} itself for every run.")
    if ";" in rest:
        values = [v.strip() for v in rest.split(";")]
    else:
        values = [v.strip() for v in rest.split(",")]
        key, has_key, _ = values[0].rpartition("=")
        if has_key and key and all("=" not in v for v in values[1:]):
            values = [values[0]] + [f"{key}={v}" for v in values[1:]]
    if any(not v for v in values):
        raise SpecError(f"--grid {text!r} has an empty value.")
    if len(set(values)) != len(values):
        raise SpecError(f"--grid {text!r} gives a value twice.")
    return Axis(name, tuple(values))


def seed_axis(text: str) -> Axis:
    """``--seeds 0,1,2``: the ``seed`` axis."""
    return parse_axis(f"seed={text}")


def check_axes(axes: list[Axis], fixed: list[str]) -> None:
    names = [a.name for a in axes]
    for name in names:
        if names.count(name) > 1:
            raise SpecError(f"--{name} is swept twice; give all its values in one --grid.")
        if f"--{name}" in fixed or any(w.startswith(f"--{name}=") for w in fixed):
            raise SpecError(f"--{name} is both swept and fixed; leave the fixed --{name} out.")
    for word in fixed:
        if word.startswith("--") and word[2:].partition("=")[0] in RESERVED:
            raise SpecError(f"{word} cannot be given to a sweep: it sets it for every run (finished runs are "
                            "skipped; delete a run's folder to train it again).")


def combinations(axes: list[Axis]) -> list[dict[str, str]]:
    """Every combination of the axes' values, the first axis varying slowest."""
    return [dict(zip((a.name for a in axes), values)) for values in itertools.product(*(a.values for a in axes))]


def value_slug(value: str) -> str:
    """A value as a piece of a folder name: ``gender=1,religion=100`` -> ``gender-1+religion-100``."""
    text = value.replace("=", "-").replace(",", "+").replace(";", "+")
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", text).strip(".") or "_"


def run_name(values: dict[str, str]) -> str:
    """A readable folder name from a run's values: ``kl-weight-gender-10__seed-1`` (``run`` with no axes)."""
    return "__".join(f"{name}-{value_slug(value)}" for name, value in values.items()) or "run"


def train_argv(fixed: list[str], values: dict[str, str], out: Path) -> list[str]:
    """``train``'s command line for one run: the fixed flags, then each value (a switch: ``on``/``off``)."""
    argv = list(fixed)
    for name, value in values.items():
        if value == ON:
            argv.append(f"--{name}")
        elif value != OFF:
            argv += [f"--{name}", value]
    return argv + ["--out", str(out), "--quiet"]


def plan_sweep(fixed: list[str], axes: list[Axis], out: str | Path) -> list[SweepRun]:
    """Every run of the grid, each command line parsed by ``train``'s parser and its model and training
    settings checked: the first that fails raises one ``SpecError`` naming the run, before any work."""
    from .commands.common import data_source_from_args
    from .commands.train import model_config_from_args, parse_train_arguments, train_config_from_args
    from .models import check_model_config

    check_axes(axes, fixed)
    out = Path(out)
    runs: list[SweepRun] = []
    names: set[str] = set()
    for values in combinations(axes):
        name = run_name(values)
        if name in names:
            raise SpecError(f"two runs of the grid would share the folder {name}; give values that differ "
                            "in letters or digits.")
        names.add(name)
        argv = train_argv(fixed, values, out / name)
        try:
            args = parse_train_arguments(argv)
            if args.engine != "kgcore":
                raise SpecError("a sweep trains with kgcore's engine; leave --engine out.")
            model_config = model_config_from_args(args)
            check_model_config(model_config)
            train_config_from_args(args).validate()
            data_source_from_args(args)
        except KGError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in values.items()) or "the fixed flags"
            raise SpecError(f"the run {shown}: {exc}") from None
        runs.append(SweepRun(name, values, argv, out / name, list(model_config.debias)))
    return runs


def measured_attributes(runs: Iterable[SweepRun], chosen: list[str] | None = None) -> list[str]:
    """The attributes to measure in every run: ``chosen``, or every attribute any run debiases."""
    if chosen:
        return list(dict.fromkeys(chosen))
    return list(dict.fromkeys(a for run in runs for a in run.debias))


def run_state(folder: Path) -> str:
    """``finished`` (a complete run: manifest checked), ``training`` (an interrupted training to resume),
    ``new`` (nothing there yet), or ``blocked`` (a damaged run or other files: reported, never overwritten)."""
    kind = folder_kind(folder)
    if kind in ("absent", "empty"):
        return "new"
    if kind == "training":
        return "training"
    if kind == "run" and (folder / MANIFEST).is_file() and manifest_problem(folder) is None:
        return "finished"
    return "blocked"


def write_plan(out: Path, fixed: list[str], axes: list[Axis], runs: list[SweepRun], attributes: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    plan = {"fixed": fixed, "grid": {a.name: list(a.values) for a in axes}, "attributes": attributes,
            "runs": [{"name": r.name, "values": r.values} for r in runs]}
    (out / PLAN).write_text(json.dumps(plan, indent=2) + "\n")


def read_plan(out: str | Path) -> dict[str, Any]:
    path = Path(out) / PLAN
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KGError(f"{path} cannot be read ({exc}); is {path.parent} a sweep folder?") from None


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def run_row(name: str, values: dict[str, str], folder: Path, attributes: list[str]) -> dict[str, Any]:
    """One summary row from a run folder (blank measures where the folder lacks them)."""
    row: dict[str, Any] = {"run": name, **values}
    config, metrics, residual = _json(folder / "config.json"), _json(folder / "metrics.json"), _json(folder / RESIDUAL)
    model = config.get("model", {})
    row["model"] = model.get("model")
    for split in ("valid", "test"):
        row[f"{split}_mrr"] = metrics.get(split, {}).get("mrr", math.nan)
    row["train_seconds"] = metrics.get("train_seconds", math.nan)
    weights = model.get("options", {}).get("kl_weight") if model.get("model") == "kl" else None
    for attribute in attributes:
        debiased = attribute in model.get("debias", [])
        if not model:
            weight = math.nan
        elif not debiased:
            weight = 0.0  # no KL term on this attribute
        else:  # a KL weight, or another way of debiasing (no weight)
            weight = weights.get(attribute, weights.get("*", 1.0)) if isinstance(weights, dict) else math.nan
        row[f"w_kl_{attribute}"] = float(weight)
        measures = residual.get(attribute, {})
        for measure in MEASURES:
            row[f"{attribute}_{measure}"] = measures.get(measure, math.nan)
    return row


def summary_frame(runs: list[SweepRun], attributes: list[str], status: dict[str, str] | None = None,
                  errors: dict[str, str] | None = None) -> pd.DataFrame:
    """The summary table of a sweep, one row per run in grid order, read from the run folders."""
    status, errors = status or {}, errors or {}
    rows = []
    for run in runs:
        row = run_row(run.name, run.values, run.out, attributes)
        row["status"] = status.get(run.name, run_state(run.out))
        row["error"] = errors.get(run.name, "")
        rows.append(row)
    return pd.DataFrame(rows)


def load_summary(out: str | Path) -> pd.DataFrame:
    """A sweep folder's table, re-read from its plan and run folders (so it is current)."""
    out = Path(out)
    plan = read_plan(out)
    runs = [SweepRun(r["name"], r["values"], [], out / r["name"]) for r in plan.get("runs", [])]
    return summary_frame(runs, plan.get("attributes", []))


def find_sweeps(root: str | Path, depth: int = 3) -> list[Path]:
    """Sweep folders (holding ``sweep.json``) under ``root``, at most ``depth`` levels down, sorted."""
    root = Path(root)
    found: list[Path] = []

    def walk(folder: Path, level: int) -> None:
        if (folder / PLAN).is_file():
            found.append(folder)
            return
        if level >= depth:
            return
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            walk(child, level + 1)

    if root.is_dir():
        walk(root, 0)
    return found


def weight_column(summary: pd.DataFrame, attribute: str) -> str | None:
    """The column of ``attribute``'s KL weight when the sweep varies it (the paper's x axis), else None."""
    column = f"w_kl_{attribute}"
    if column in summary.columns and summary[column].dropna().nunique() > 1:
        return column
    return None


def sweep_points(summary: pd.DataFrame, attribute: str, x: str | None = None) -> pd.DataFrame:
    """The debiasing paper's Table 1 from a sweep: per value of ``x`` (by default ``attribute``'s KL weight),
    the mean and standard deviation over the runs (seeds) of the MRR (test, else valid), the difference in
    scores, the classifier accuracy and the most-frequent rate, with the number of runs. Failed runs and
    runs without measures are left out."""
    x = x or weight_column(summary, attribute)
    if x is None or x not in summary.columns:
        raise KGError(f"The sweep does not vary the KL weight of {attribute}; nothing to plot against.")
    frame = summary.copy()
    frame["mrr"] = frame["test_mrr"].where(frame["test_mrr"].notna(), frame["valid_mrr"])
    columns = {"mrr": "mrr", f"{attribute}_difference": "difference", f"{attribute}_accuracy": "accuracy",
               f"{attribute}_most_frequent_rate": "most_frequent_rate"}
    frame = frame.rename(columns=columns)
    frame = frame[frame["mrr"].notna() & frame[x].notna()]
    grouped = frame.groupby(x, sort=True)
    points = grouped[list(columns.values())].agg(["mean", "std"])
    points.columns = [f"{name}_{stat}" for name, stat in points.columns]
    points["runs"] = grouped.size()
    return points.reset_index().rename(columns={x: "x"})
