"""PyTorch-BigGraph's side of ``tests/test_import_pbg.py``: run by PBG's own Python (its virtualenv), never
importing kgcore. It converts a folder of train/valid/test triples with PBG's converter, trains PBG on the
training triples, then scores the test triples with PBG's own model and ranks them with PBG's own
``FilteredRankingEvaluator``, and writes the result as JSON for the test to compare with kgcore's import.

    $PBG_PYTHON tests/pbg_roundtrip_worker.py --data-dir DIR --work DIR --operator translation --dim 16 --out OUT.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pbg_roundtrip_worker.py")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--operator", default="translation")
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write (PBG's converter prints)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kgcore" / "engines"))
    import attr
    import pbg_worker  # kgcore's PBG engine worker: seeding, conversion and training, without kgcore
    import torch
    from torchbiggraph.checkpoint_manager import CheckpointManager
    from torchbiggraph.config import ConfigSchema
    from torchbiggraph.filtered_eval import FilteredRankingEvaluator
    from torchbiggraph.graph_storages import EDGE_STORAGES, ENTITY_STORAGES, RELATION_TYPE_STORAGES
    from torchbiggraph.model import make_model
    from torchbiggraph.types import Partition, Side
    from torchbiggraph.util import setup_logging

    pbg_worker.seed_everything(args.seed)
    setup_logging()
    config = ConfigSchema.from_dict(pbg_worker.single_partition_config(
        args.work, args.work / "checkpoint", args.operator, args.dim, num_uniform_negs=50, batch_size=100, lr=0.1,
        num_epochs=args.epochs, workers=1))
    pbg_worker.convert(config, [args.data_dir / f"{split}.txt" for split in pbg_worker.SPLITS])
    pbg_worker.train_on_train_split(config)

    # Score the test triples with PBG's own model, against every entity (its evaluation's setting).
    eval_config = attr.evolve(config, relations=[attr.evolve(r, all_negs=True) for r in config.relations],
                              num_uniform_negs=0)
    model = make_model(eval_config)
    manager = CheckpointManager(config.checkpoint_path)
    state, _ = manager.read_model()
    model.load_state_dict(state, strict=False)
    embeddings, _ = manager.read("all", Partition(0))
    model.set_embeddings("all", torch.nn.Parameter(embeddings), Side.LHS)
    model.set_embeddings("all", torch.nn.Parameter(embeddings), Side.RHS)
    model.eval()
    train_path, valid_path, test_path = config.edge_paths
    edges = EDGE_STORAGES.make_instance(test_path).load_edges(Partition(0), Partition(0))
    evaluator = FilteredRankingEvaluator(eval_config, [test_path, valid_path, train_path])
    with torch.no_grad():
        scores = model(edges)
        tail_scores = scores.rhs_pos.clone()  # <g_r(h), t>: how tails are ranked
        head_scores = scores.lhs_pos.clone()  # <h, h_r(t)>: how heads are ranked
        stats = evaluator.eval(scores, edges).average()

    names = ENTITY_STORAGES.make_instance(config.entity_path).load_names("all", Partition(0))
    relations = RELATION_TYPE_STORAGES.make_instance(config.entity_path).load_names()
    lhs, rhs, rel = edges.lhs.to_tensor(), edges.rhs.to_tensor(), edges.rel
    triples = [[names[int(h)], relations[int(r)], names[int(t)]] for h, r, t in zip(lhs, rel, rhs)]
    args.out.write_text(json.dumps({"triples": triples, "tail_scores": tail_scores.tolist(), "head_scores": head_scores.tolist(),
                      "mrr": float(stats.metrics["mrr"]), "count": stats.count,
                      "checkpoint": config.checkpoint_path, "entity_path": config.entity_path}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
