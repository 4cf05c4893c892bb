"""PyTorch-BigGraph's side of ``train --engine pbg`` (``kgcore.engines.pbg``): run by PBG's own Python (its
virtualenv, where kgcore's pins need not hold), never importing kgcore. It loads the config file kgcore wrote
(``get_torchbiggraph_config()``, the same file PBG's own launcher ``torchbiggraph_train`` takes), converts the
train/valid/test TSV files with PBG's converter, seeds Python, NumPy and torch, and trains on the training
edges; the checkpoint lands in the config's ``checkpoint_path``.

    PBG_PYTHON kgcore/engines/pbg_worker.py CONFIG.py TRAIN.tsv VALID.tsv TEST.tsv --seed 0

The test and benchmark drivers of PBG (``tests/pbg_roundtrip_worker.py``, ``bench/pbg_timed_worker.py``) import this
file by its path for the same steps (``single_partition_config``, ``seed_everything``, ``convert``,
``train_on_train_split``).
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")  # PBG 1.0 imports it


SPLITS = ("train", "valid", "test")


def single_partition_config(work: Path, checkpoint: Path, operator: str, dim: int, **settings) -> dict:
    """A PBG config dict for one graph in one partition, converted under ``work/data`` from the train, valid
    and test TSV files (``convert``), one operator for every relation (dynamic relations), dot-product
    comparator and softmax loss over uniform negatives; ``settings`` set or replace the rest (epochs, batch
    size, negatives, workers...)."""
    data = work / "data"
    return dict(entity_path=str(data), edge_paths=[str(data / f"{split}_partitioned") for split in SPLITS],
                checkpoint_path=str(checkpoint), entities={"all": {"num_partitions": 1}},
                relations=[{"name": "all_edges", "lhs": "all", "rhs": "all", "operator": operator}],
                dynamic_relations=True, dimension=dim, global_emb=False, comparator="dot", loss_fn="softmax",
                **{"num_batch_negs": 0, "eval_fraction": 0.0, "verbose": 0, **settings})


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (PBG's Hogwild! workers still make a run nondeterministic)."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def convert(config, tsv_paths: list[Path]) -> None:
    """PBG's converter over the train, valid and test TSV files (head, relation, tail), into the config's
    entity and edge paths."""
    from torchbiggraph.converters.import_from_tsv import convert_input_data

    convert_input_data(config.entities, config.relations, config.entity_path, config.edge_paths,
                       [Path(p) for p in tsv_paths], lhs_col=0, rhs_col=2, rel_col=1,
                       dynamic_relations=config.dynamic_relations)


def train_on_train_split(config, subprocess_init=None) -> None:
    """PBG's ``train`` on the first edge path (the training triples)."""
    import attr
    from torchbiggraph.train import train
    from torchbiggraph.util import SubprocessInitializer

    train(attr.evolve(config, edge_paths=[config.edge_paths[0]]), subprocess_init=subprocess_init or SubprocessInitializer())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pbg_worker.py")
    parser.add_argument("config", type=Path)
    parser.add_argument("tsv", type=Path, nargs=3, help="train, valid and test triples (head, relation, tail)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    seed_everything(args.seed)  # imports torch: before torchbiggraph.config, whose schema otherwise fails to
    # parse Optional fields ("Unknown type: typing.Optional[float]", PBG 1.0)
    from torchbiggraph.config import ConfigFileLoader
    from torchbiggraph.util import setup_logging

    setup_logging()
    config = ConfigFileLoader().load_config(str(args.config))
    convert(config, args.tsv)
    train_on_train_split(config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
