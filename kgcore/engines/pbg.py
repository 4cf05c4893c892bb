"""``train --engine pbg``: kgcore's Basic model trained by PyTorch-BigGraph (PBG) and brought back as a run.

kgcore's options become a PBG config (``pbg_config``): one entity type in one partition, dynamic relations
with the ``translation`` operator and the ``dot`` comparator, which is what kgcore's ``transe-dot-reciprocal``
interaction scores exactly (``kgcore.imports.pbg``); ``--dim``, ``--epochs``, ``--batch-size``, ``--lr``,
``--negatives`` (of which ``--batch-negatives`` become PBG's batch negatives and the rest its uniform ones) and
the loss (margin -> ranking with ``--margin``, softplus -> logistic, softmax -> softmax) carry over, and entity
norms are capped at 1 (PBG's ``max_norm``) unless ``--no-entity-norm``. PBG trains with Adagrad only, so
``--optimizer adagrad`` is required; options PBG has no counterpart for are refused in one line rather than
dropped silently.

The graph's splits are written as TSV files, the config as ``pbg_config.py`` (``get_torchbiggraph_config()``,
the file PBG's own launcher ``torchbiggraph_train`` takes), and PBG runs
in its own Python (``--pbg-python`` or ``$PBG_PYTHON``: a virtualenv with torchbiggraph, whose pins need not
agree with kgcore's) through ``kgcore/engines/pbg_worker.py``. Its checkpoint is imported as
``kgcore import pbg`` does, evaluated like any training, and saved with the config file inside the run.
"""
from __future__ import annotations

import os
import pprint
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import KGError, SpecError

if TYPE_CHECKING:
    from ..data.datasets import DataSource
    from ..models import ModelConfig
    from ..training.loop import TrainConfig

PBG_PYTHON_ENV = "PBG_PYTHON"
CONFIG_FILE = "pbg_config.py"
WORKER = Path(__file__).with_name("pbg_worker.py")
SPLITS = ("train", "valid", "test")
PBG_LOSSES = {"margin": "ranking", "softplus": "logistic", "softmax": "softmax"}
INTERACTION = "transe-dot-reciprocal"


def check_pbg_options(model_config: "ModelConfig", train_config: "TrainConfig") -> None:
    """Refuse in one line what PBG cannot train as asked."""
    if model_config.model != "transe" or model_config.debias:
        raise SpecError("--engine pbg trains the Basic model (--model transe, no --debias); debiasing runs in kgcore.")
    if model_config.interaction != INTERACTION:
        raise SpecError(f"--engine pbg trains PBG's translation operator with the dot comparator, kgcore's "
                        f"--interaction {INTERACTION} (one translation per side of each relation), "
                        f"not {model_config.interaction}.")
    if train_config.loss not in PBG_LOSSES:
        raise SpecError(f"--engine pbg takes --loss {', '.join(PBG_LOSSES)} (PBG's ranking, logistic, softmax), "
                        f"not {train_config.loss}.")
    if train_config.optimizer != "adagrad":
        raise SpecError("PyTorch-BigGraph trains with Adagrad only: pass --optimizer adagrad with --engine pbg.")
    refused = {"--withhold": train_config.withheld_relations, "--eval-every": train_config.eval_every,
               "--warmup-epochs": train_config.warmup_epochs, "--filtered-negatives": train_config.filtered_negatives}
    given = [flag for flag, value in refused.items() if value]
    if given:
        raise SpecError(f"{', '.join(given)}: PyTorch-BigGraph has no such option; leave it out with --engine pbg.")


def pbg_config(model_config: "ModelConfig", train_config: "TrainConfig", work: Path) -> dict[str, Any]:
    """PBG's ConfigSchema (as a dict) for kgcore's options, its files under ``work``."""
    check_pbg_options(model_config, train_config)
    data = work / "data"
    return dict(
        entity_path=str(data), edge_paths=[str(data / f"{split}_partitioned") for split in SPLITS],
        checkpoint_path=str(work / "checkpoint"), entities={"all": {"num_partitions": 1}},
        relations=[{"name": "all_edges", "lhs": "all", "rhs": "all", "operator": "translation"}],
        dynamic_relations=True, dimension=model_config.dim, global_emb=False, comparator="dot",
        max_norm=1.0 if model_config.entity_norm else None, loss_fn=PBG_LOSSES[train_config.loss],
        margin=train_config.margin, num_uniform_negs=train_config.num_negatives - train_config.batch_negatives,
        num_batch_negs=train_config.batch_negatives,
        batch_size=train_config.batch_size, lr=train_config.lr, num_epochs=train_config.epochs,
        eval_fraction=0.0, workers=1, verbose=0,
    )


def config_file_text(config: dict[str, Any]) -> str:
    """The config as the Python file PBG's launcher loads."""
    return ('"""PyTorch-BigGraph config written by kgcore (train --engine pbg); paths point at its working '
            'folder: change them to\nrun it again (distributed: shared storage, num_partitions at least twice '
            'the machines, torchbiggraph_train --rank)."""\n\n\n'
            f"def get_torchbiggraph_config():\n    return {pprint.pformat(config, indent=4, sort_dicts=False)}\n")


def pbg_python(given: str | None) -> str:
    python = given or os.environ.get(PBG_PYTHON_ENV)
    if not python:
        raise SpecError(f"--engine pbg needs a Python with torchbiggraph: give --pbg-python PATH or set ${PBG_PYTHON_ENV}.")
    if not Path(python).is_file():
        raise SpecError(f"--pbg-python {python} is not a file; give the python of a virtualenv with torchbiggraph.")
    return python


def write_splits(graph, folder: Path) -> list[Path]:
    """The graph's splits as TSV files of names (PBG's converter reads them)."""
    paths = []
    for split in SPLITS:
        path = folder / f"{split}.tsv"
        rows = graph.splits[split].tolist()
        path.write_text("".join(f"{graph.entities[h]}\t{graph.relations[r]}\t{graph.entities[t]}\n" for h, r, t in rows))
        paths.append(path)
    return paths


def train_with_pbg(out: str | Path, model_config: "ModelConfig", train_config: "TrainConfig", source: "DataSource",
                   *, python: str | None = None, splits: tuple[str, ...] = ("valid", "test"),
                   without_sensitive: bool = False, overwrite: bool = False) -> tuple[Path, dict[str, Any]]:
    """Train ``model_config``'s Basic model with PBG, import, evaluate and save it as the run ``out``;
    returns the run's path and metrics. Everything is checked before PBG starts."""
    from ..imports.common import build_imported_model
    from ..imports.pbg import read_pbg_checkpoint
    from ..models import check_model_config
    from ..runs import check_run_destination, save_run
    from ..training.evaluate import evaluate

    out = Path(out)
    train_config.validate()
    check_model_config(model_config)
    check_pbg_options(model_config, train_config)
    executable = pbg_python(python)
    check_run_destination(out, overwrite)
    graph = source.load()
    with tempfile.TemporaryDirectory(prefix="kgcore-pbg-") as folder:
        work = Path(folder)
        config = pbg_config(model_config, train_config, work)
        text = config_file_text(config)
        (work / CONFIG_FILE).write_text(text)
        started = time.perf_counter()
        done = subprocess.run([executable, str(WORKER), str(work / CONFIG_FILE), *map(str, write_splits(graph, work)),
                               "--seed", str(train_config.seed)], capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise KGError(f"PyTorch-BigGraph failed (exit {done.returncode}): {last}")
        imported = read_pbg_checkpoint(work / "checkpoint", work / "data")
        model = build_imported_model(imported, graph)
    metrics: dict[str, Any] = {"train_seconds": seconds, "seconds_per_epoch": seconds / max(1, train_config.epochs),
                               "engine": {"name": "pytorch-biggraph", "config": CONFIG_FILE,
                                          **{k: v for k, v in imported.source.items() if k != "path"}}}
    for split in splits:
        if graph.splits[split].shape[0]:
            metrics[split] = evaluate(model, graph, split, progress=False, without_sensitive=without_sensitive)
    path = save_run(out, model, graph, source, train_config, metrics=metrics, overwrite=overwrite,
                    add_files=lambda run: (run / CONFIG_FILE).write_text(text))
    return path, metrics
