"""``python -m kgcore demo``: export the synthetic demo world, or rebuild the pretrained demo runs.

``--rebuild`` generates the demo world from its seed, trains the demo models (``transe``, then the
debiased ``kl`` and ``bose``), and writes one run folder per model under ``--out``
(default ``assets/demo``) with ``bias_<attribute>.csv`` tables and ``precomputed.json`` (the dashboard's
per-run numbers, ``kgcore.precomputed``) beside the run files, plus
``manifest.json`` (world size, timings, top professions) and ``graph_overview.json`` (the world's
``kgcore.data.overview``, which the dashboard's Overview shows without generating the world).
``--export DIR`` writes the world's ``train/valid/test.txt`` and ``labels.tsv``.

Determinism: the world files depend only on the seed (pure Python, same bytes everywhere). Training is
seeded and runs with torch's deterministic algorithms on ``--threads`` CPU threads (default 1), so a rerun
gives byte-identical ``model.pt``, ``config.json``, id maps and bias tables *with the same torch version on
the same kind of CPU* (other versions or instruction sets may round differently). ``metrics.json``,
``history.csv``, ``precomputed.json`` and ``manifest.json`` also record wall-clock times, which differ from run
to run.
"""
from __future__ import annotations

import argparse
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from ..data.datasets import DataSource
from ..demo import (GRAPH_OVERVIEW_FILE, PROFESSION_SKEWS, SYNTHETIC_NOTICE, DemoWorldConfig, world_summary,
                    write_demo_world)
from ..errors import KGError
from ..io import write_json, write_text
from ..models import MODELS, ModelConfig, check_model_config
from ..runs import check_run_destination
from ..training.loop import TrainConfig
from ..training.pipeline import train_and_save
from ..training.presets import FISHER2020
from ..data.whitelist import builtin_whitelist

DEFAULT_OUT = "assets/demo"
DEMO_MODELS = ("transe", "kl", "bose")
# The shipped demo runs use the papers' preset (``kgcore.training.presets.FISHER2020``), smaller for a world of
# 3,000 people: d = 64 and 20 epochs instead of 200 and 50. The KL weight for gender is 100 (the paper's weight
# for the other attributes), not FB15K's 1: on this world 10 still leaves a classifier 0.03 above the
# most-frequent rate, 100 leaves it at that rate with 2% less MRR.
DEMO_PRESET = FISHER2020
DEMO_DIM = 64
DEMO_EPOCHS = 20
DEMO_BATCH_SIZE = int(FISHER2020.train["batch_size"])
DEMO_LR = float(FISHER2020.train["lr"])
DEMO_KL_WEIGHT = 100.0
TOP_PROFESSIONS = 5


def demo_model_config(name: str, dim: int = DEMO_DIM) -> ModelConfig:
    """The demo's configuration of each model, in the papers' preset: the debiased ones remove gender, the
    KL model with the demo's whitelist (KL + Attr.)."""
    debias = ["gender"] if MODELS[name].debiasing else []
    options = DEMO_PRESET.model_options(name, debias)
    if name == "kl":
        options.update(kl_weight={"*": DEMO_KL_WEIGHT}, whitelist=builtin_whitelist("demo"))
    return ModelConfig(model=name, dim=dim, debias=debias, options=options,
                       **{k: v for k, v in DEMO_PRESET.model.items() if k != "dim"})


def demo_train_config(epochs: int = DEMO_EPOCHS, seed: int = 0, batch_size: int = DEMO_BATCH_SIZE,
                      lr: float = DEMO_LR) -> TrainConfig:
    """The preset's training with the demo's epochs, on the CPU."""
    return TrainConfig(**{**DEMO_PRESET.train, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                          "device": "cpu"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="export the synthetic demo world, or rebuild the pretrained demo runs",
        description="The demo world is a synthetic knowledge graph of invented people whose "
                    "profession-by-gender counts follow published figures (kgcore/demo/skews.py lists them). "
                    "--export writes its triples; --rebuild trains the demo models on it and writes their run "
                    "folders and bias tables, byte-identical for the same seed, torch version and CPU.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--rebuild", action="store_true",
                        help="train the demo models and write their runs")
    action.add_argument("--export", metavar="DIR", help="write train/valid/test.txt and labels.tsv to DIR")
    world = parser.add_argument_group("world")
    world.add_argument("--seed", type=int, default=0, help="seed of the demo world")
    world.add_argument("--n-people", type=int, default=DemoWorldConfig.n_people, help="people in the world")
    runs = parser.add_argument_group("rebuild")
    runs.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="folder for the run folders")
    runs.add_argument("--models", default=",".join(DEMO_MODELS), metavar="M[,M]",
                      help="models to train")
    runs.add_argument("--dim", type=int, default=DEMO_DIM, help="embedding dimension")
    runs.add_argument("--epochs", type=int, default=DEMO_EPOCHS, help="training epochs per model")
    runs.add_argument("--batch-size", type=int, default=DEMO_BATCH_SIZE, help="training batch size")
    runs.add_argument("--lr", type=float, default=DEMO_LR, help="learning rate")
    runs.add_argument("--train-seed", type=int, default=0, help="seed of initialisation and batching")
    runs.add_argument("--threads", type=int, default=1,
                      help="CPU threads while training (fixed so that reruns give the same bytes)")
    runs.add_argument("--overwrite", action="store_true", help="replace demo runs already in DIR")
    runs.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = DemoWorldConfig(seed=args.seed, n_people=args.n_people)
    if args.export:
        folder = write_demo_world(args.export, config)
        print(json.dumps({"folder": str(folder), "notice": SYNTHETIC_NOTICE, "world_config": config.to_dict(),
                          "training_graph": world_summary(_graph(config))}, indent=2))
        return 0
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models:
        raise KGError("--models is empty; name at least one of " + ", ".join(DEMO_MODELS) + ".")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise KGError(f"Unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}.")
    if args.threads < 1:
        raise KGError(f"--threads must be at least 1 (got {args.threads}).")
    train_config = demo_train_config(args.epochs, args.train_seed, args.batch_size, args.lr)
    train_config.validate()
    for name in models:  # every destination and setting checked before the first model trains
        check_model_config(demo_model_config(name, args.dim))
        check_run_destination(Path(args.out) / name, args.overwrite)
    manifest = rebuild(Path(args.out), config, models, train_config, dim=args.dim, threads=args.threads,
                       progress=not args.quiet, overwrite=args.overwrite)
    print(json.dumps({k: manifest[k] for k in ("out", "world", "trained", "bias_tables")}, indent=2))
    return 0


def _graph(config: DemoWorldConfig):
    return DataSource(dataset="demo", options=config.to_dict()).load()


@contextmanager
def deterministic_torch(threads: int) -> Iterator[None]:
    """Deterministic kernels on a fixed number of threads, restored afterwards."""
    previous_threads = torch.get_num_threads()
    previous_mode = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous_mode)
        torch.set_num_threads(previous_threads)


def rebuild(out: Path, config: DemoWorldConfig, models: list[str], train_config: TrainConfig,
            dim: int = DEMO_DIM, threads: int = 1, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Train each model in ``models`` on the demo world and write ``out/<model>/`` run folders
    with bias tables (part of each run, in its manifest), and ``out/manifest.json``; existing runs are
    replaced only with ``overwrite``. Returns the manifest."""
    source = DataSource(dataset="demo", options=config.to_dict())
    graph = source.load()
    manifest: dict[str, Any] = {
        "out": str(out), "notice": SYNTHETIC_NOTICE, "world": world_summary(graph),
        "world_config": config.to_dict(), "train_config": train_config.to_dict(), "dim": dim, "threads": threads,
        "torch": torch.__version__, "trained": [], "bias_tables": {}, "runs": {},
    }
    for name in models:
        written: list = []
        with deterministic_torch(threads):
            trained = train_and_save(out / name, demo_model_config(name, dim), train_config, source, graph,
                                     progress=progress, splits=("test",), overwrite=overwrite,
                                     without_sensitive=DEMO_PRESET.without_sensitive,
                                     add_files=lambda *made: written.append(write_run_extras(*made)))
        model, result, path = trained.model, trained.result, trained.path
        files, top = written[0]
        manifest["trained"].append(name)
        manifest["bias_tables"][name] = [f for f in files if f.startswith("bias_")]
        manifest["runs"][name] = {"path": str(path), "train_seconds": trained.metrics["train_seconds"],
                                  "seconds_per_epoch": result.seconds_per_epoch,
                                  "test_mrr": trained.metrics.get("test", {}).get("mrr"), "top_professions": top,
                                  **gender_summary(model, graph)}
    write_json(out / "manifest.json", manifest)
    write_graph_overview(out, config, graph)
    write_text(out / "README.txt", f"{SYNTHETIC_NOTICE}\nRegenerate with: python -m kgcore demo --rebuild "
                                   f"--out {out} --seed {config.seed} --n-people {config.n_people}\n")
    return manifest


def write_graph_overview(out: Path, config: DemoWorldConfig, graph: Any) -> None:
    """``out/graph_overview.json``: the world's ``graph_overview`` with the world settings it was made for."""
    from ..data.overview import graph_overview

    write_json(out / GRAPH_OVERVIEW_FILE, {"world_config": config.to_dict(), "overview": graph_overview(graph)})


def gender_summary(model: Any, graph: Any) -> dict[str, Any]:
    """The figures the demo's pattern is read from: aggregate gender bias (perturbation), the debiasing
    paper's two measures of what is left (difference in scores, classifier accuracy beside the
    most-frequent rate) and, for the whitelisted professions, the recorded-gender association that attribute
    vectors should keep."""
    from ..analysis.aggregate import aggregate_bias
    from ..analysis.association import recorded_association
    from ..analysis.residual import residual_measures

    legitimate = tuple(p.label for p in PROFESSION_SKEWS if p.legitimate)
    association = recorded_association(model, graph, "gender", "female", centre_exclude=legitimate)
    others = association[[label for label in association.index if label not in legitimate]]
    residual = residual_measures(model, graph, "gender")
    return {"gender_bias": aggregate_bias(model, graph, "gender", n_boot=200)["bias"],
            "gender_score_difference": residual["difference"], "gender_classifier_accuracy": residual["accuracy"],
            "gender_most_frequent_rate": residual["most_frequent_rate"],
            "female_association_whitelisted": {k: round(float(association[k]), 4) for k in legitimate},
            "female_association_others_mean_abs": float(others.abs().mean())}


def write_run_extras(model: Any, graph: Any, folder: Path) -> tuple[list[str], dict[str, Any]]:
    """The bias tables and ``precomputed.json`` of a demo run: (files written, top professions per gender)."""
    from ..precomputed import write_precomputed

    written, top = write_bias_tables(model, graph, folder)
    return written + [write_precomputed(model, graph, folder)], top


def write_bias_tables(model: Any, graph: Any, folder: Path) -> tuple[list[str], dict[str, Any]]:
    """``bias_<attribute>.csv`` for every attribute of the spec (per profession: counts, shares, B per value),
    and the top professions per gender value for the manifest."""
    from ..analysis.measure import measure_bias

    written, top = [], {}
    for attribute in graph.spec.attribute_names:
        result = measure_bias(model, graph, attribute=attribute)
        frame = result.frame.sort_values(["people", "entity"], ascending=[False, True])
        write_text(folder / f"bias_{attribute}.csv", frame.to_csv(index=False, float_format="%.9g"))
        written.append(f"bias_{attribute}.csv")
        if attribute == "gender":
            for value in result.measured:
                column = f"B_{value}"
                ranked = frame[frame["people"] >= 10].sort_values([column, "label"], ascending=[False, True])
                top[value] = ranked["label"].head(TOP_PROFESSIONS).tolist()
    return written, top
