"""``python -m kgcore sweep``: train one run per point of a grid over ``train``'s options, on Ray or one
after another, and write one summary table (``kgcore.sweep``, ``kgcore.sweep_run``)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from ..errors import SpecError
from ..sweep import (MEASURES, PLAN, SUMMARY, measured_attributes, parse_axis, plan_sweep, run_state,
                     seed_axis, summary_frame, write_plan)

EXECUTORS = ("ray", "local")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="train a grid of runs (Ray or one after another) and summarise them",
        description="Train one run per combination of the --grid values, each written as a normal run folder "
                    "SWEEP_DIR/<name>, and write SWEEP_DIR/summary.csv with the varied options, the MRR and, per "
                    "debiased attribute, the difference in scores and the classifier accuracy (beside the "
                    "most-frequent rate). Every flag the sweep does not know is passed to `train` for every "
                    "run, and every combination is checked by train's parser before anything runs. Finished "
                    "runs are skipped and interrupted ones resumed when the sweep is run again; a run that "
                    "fails is reported and the others go on. Example: sweep --dataset demo --preset fisher2020 "
                    "--model kl --debias gender --grid kl-weight=gender=0,1,10,100 --seeds 0,1,2 --out sweeps/wkl",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter, allow_abbrev=False)
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="a train flag (without dashes) and its values, repeatable: lr=0.01,0.001; values "
                             "holding commas are separated by ';' (kl-weight=gender=1,religion=1;gender=10,"
                             "religion=100); kl-weight=gender=0,1,10 sweeps gender's weight; a switch takes on,off")
    parser.add_argument("--seeds", metavar="S1,S2", help="seeds to train each combination with (--grid seed=...)")
    parser.add_argument("--out", required=True, metavar="SWEEP_DIR", help="folder of the sweep's runs and summary")
    parser.add_argument("--executor", choices=EXECUTORS, default="ray",
                        help="ray: one Ray task per run (pip install 'kgcore[ray]'); local: one after another here")
    parser.add_argument("--address", metavar="ADDRESS",
                        help="Ray cluster to use (e.g. auto or ray://host:10001) instead of a local Ray; "
                             "SWEEP_DIR must then be on storage all its nodes share")
    parser.add_argument("--cpus-per-run", type=int, default=1, metavar="N",
                        help="cores each run reserves on Ray and torch threads it uses")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="runs at once on the local Ray (0: as many as the cores allow)")
    parser.add_argument("--measure", default="", metavar="ATTR[,ATTR]",
                        help="attributes whose residual measures the summary holds (default: every debiased one)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run, passed_on=[])


def summary_columns(summary: pd.DataFrame, varied: list[str], attributes: list[str]) -> list[str]:
    """The columns printed: run, varied values, status, MRR and the residual measures."""
    columns = ["run", *varied, "status", "valid_mrr", "test_mrr"]
    columns += [f"{a}_{m}" for a in attributes for m in MEASURES]
    return [c for c in columns if c in summary.columns and not summary[c].isna().all()]


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..sweep_run import run_local, run_ray

    if args.cpus_per_run < 1 or args.workers < 0:
        raise SpecError("--cpus-per-run must be at least 1 and --workers at least 0.")
    if args.address and args.executor != "ray":
        raise SpecError("--address names a Ray cluster; leave it out with --executor local.")
    axes = [parse_axis(text) for text in args.grid] + ([seed_axis(args.seeds)] if args.seeds else [])
    out = Path(args.out)
    runs = plan_sweep(list(args.passed_on), axes, out)
    attributes = measured_attributes(runs, [a.strip() for a in args.measure.split(",") if a.strip()])
    if args.executor == "ray":
        from ..extras import require

        require("ray")  # before any work: one line saying what to install
    write_plan(out, list(args.passed_on), axes, runs, attributes)
    status: dict[str, str] = {r.name: "skipped" for r in runs if run_state(r.out) == "finished"}
    jobs = [{"name": r.name, "argv": r.argv, "out": str(r.out), "attributes": attributes,
             "threads": args.cpus_per_run} for r in runs if r.name not in status]
    if not jobs:
        results = iter(())
    elif args.executor == "ray":
        workers = args.workers or max(1, (os.cpu_count() or 1) // args.cpus_per_run)
        results = run_ray(jobs, cpus=args.cpus_per_run, workers=workers, address=args.address)
    else:
        results = run_local(jobs)
    errors: dict[str, str] = {}
    with tqdm(total=len(jobs), desc="sweep", unit="run", disable=args.quiet, file=sys.stderr) as bar:
        for name, state, error in results:
            status[name] = state
            if error:
                errors[name] = error
                tqdm.write(f"failed {name}: {error}", file=sys.stderr)
            bar.update(1)
            bar.set_postfix(failed=len(errors))
    summary = summary_frame(runs, attributes, status, errors)
    summary.to_csv(out / SUMMARY, index=False)
    shown = summary[summary_columns(summary, [a.name for a in axes], attributes)]
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(f"\n{len(runs)} runs in {out} ({PLAN}, {SUMMARY}): "
          + ", ".join(f"{n} {s}" for s, n in summary["status"].value_counts().items()))
    if errors:
        print(f"error: {len(errors)} of {len(runs)} runs failed (their reasons are in {out / SUMMARY}).",
              file=sys.stderr)
        return 1
    return 0
