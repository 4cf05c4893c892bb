"""PyTorch-BigGraph's side of ``train --engine pbg`` (``kgcore.engines.pbg``): run by PBG's own Python (its
virtualenv, where kgcore's pins need not hold), never importing kgcore. It loads the config file kgcore wrote
(``get_torchbiggraph_config()``, the same file PBG's own launcher ``torchbiggraph_train`` takes), converts the
train/valid/test TSV files with PBG's converter, seeds Python, NumPy and torch, and trains on the training
edges; the checkpoint lands in the config's ``checkpoint_path``.

    PBG_PYTHON kgcore/engines/pbg_worker.py CONFIG.py TRAIN.tsv VALID.tsv TEST.tsv --seed 0
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pbg_worker.py")
    parser.add_argument("config", type=Path)
    parser.add_argument("tsv", type=Path, nargs=3, help="train, valid and test triples (head, relation, tail)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import random
    import warnings

    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    import attr
    import numpy as np
    import torch
    from torchbiggraph.config import ConfigFileLoader
    from torchbiggraph.converters.import_from_tsv import convert_input_data
    from torchbiggraph.train import train
    from torchbiggraph.util import SubprocessInitializer, setup_logging

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    setup_logging()
    config = ConfigFileLoader().load_config(str(args.config))
    convert_input_data(config.entities, config.relations, config.entity_path, config.edge_paths, list(args.tsv),
                       lhs_col=0, rhs_col=2, rel_col=1, dynamic_relations=config.dynamic_relations)
    train(attr.evolve(config, edge_paths=[config.edge_paths[0]]), subprocess_init=SubprocessInitializer())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
