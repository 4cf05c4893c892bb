"""The PyTorch-BigGraph side of ``bench/pbg_compare.py``: run in PBG's own virtualenv (as a subprocess of the
driver), it trains PBG on the converted FB15k-237 in the papers' setting, times each epoch and exports the
embeddings; it never imports kgcore.

    $PBG_PYTHON bench/pbg_timed_worker.py --work DIR --data-dir DIR --checkpoint DIR --epochs N --workers N ...
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pbg_timed_worker.py")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--hogwild-delay", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--own-eval", action="store_true")
    parser.add_argument("--uniform-negs", type=int, default=1000)
    parser.add_argument("--batch-negs", type=int, default=0)
    args = parser.parse_args(argv)

    import logging

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kgcore" / "engines"))
    import attr
    import pbg_worker  # kgcore's PBG engine worker: seeding and conversion, without kgcore
    import torch
    import torchbiggraph
    from torchbiggraph.checkpoint_manager import CheckpointManager
    from torchbiggraph.config import ConfigSchema
    from torchbiggraph.graph_storages import ENTITY_STORAGES, RELATION_TYPE_STORAGES
    from torchbiggraph.train import train_and_report_stats
    from torchbiggraph.util import SubprocessInitializer, set_logging_verbosity, setup_logging

    setup_logging()
    config = ConfigSchema.from_dict(pbg_worker.single_partition_config(
        args.work, args.checkpoint, "translation", args.dim, bias=False, num_uniform_negs=args.uniform_negs,
        num_batch_negs=args.batch_negs, batch_size=1000, lr=0.1, num_epochs=args.epochs, workers=args.workers,
        num_machines=1, hogwild_delay=args.hogwild_delay))
    set_logging_verbosity(config.verbose)
    subprocess_init = SubprocessInitializer()
    subprocess_init.register(setup_logging, config.verbose)

    started = time.perf_counter()
    pbg_worker.convert(config, [args.data_dir / f"{split}.txt" for split in pbg_worker.SPLITS])
    convert_seconds = time.perf_counter() - started

    class EpochStarts(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []

        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("Starting epoch"):
                self.times.append(time.perf_counter())

    starts = EpochStarts()
    logging.getLogger("torchbiggraph").addHandler(starts)
    pbg_worker.seed_everything(args.seed)
    train_config = attr.evolve(config, edge_paths=[config.edge_paths[0]])
    epochs = []
    started = time.perf_counter()
    for _index, _before, stats, _after in train_and_report_stats(train_config, subprocess_init=subprocess_init):
        now = time.perf_counter()
        epochs.append({"seconds": now - starts.times[-1], "loss": stats.metrics.get("loss"),
                       "edges": stats.count})
    total_seconds = time.perf_counter() - started

    manager = CheckpointManager(config.checkpoint_path)
    embeddings, _ = manager.read("all", 0)
    state, _ = manager.read_model()
    entity_names = ENTITY_STORAGES.make_instance(config.entity_path).load_names("all", 0)
    relation_names = RELATION_TYPE_STORAGES.make_instance(config.entity_path).load_names()
    lhs_key = next(k for k in state if k.startswith("lhs_operators.0.") and k.endswith("translations"))
    rhs_key = next(k for k in state if k.startswith("rhs_operators.0.") and k.endswith("translations"))
    out = {
        "pbg_version": getattr(torchbiggraph, "__version__", None) or _dist_version("torchbiggraph"),
        "torch_version": torch.__version__,
        "convert_seconds": convert_seconds,
        "train_seconds": total_seconds,
        "epochs": epochs,
        "config": {k: v for k, v in train_config.to_dict().items() if k not in ("entities", "relations")},
        "relation_config": train_config.to_dict()["relations"],
    }
    if args.own_eval:
        out["own_eval"] = pbg_own_eval(config, subprocess_init)
    torch.save({"entity_names": list(entity_names), "relation_names": list(relation_names),
                "entities": embeddings.detach().clone(),
                "lhs_translations": state[lhs_key].detach().clone(),
                "rhs_translations": state[rhs_key].detach().clone(),
                "state_keys": sorted(state)}, args.export)
    print(json.dumps(out))
    return 0


def pbg_own_eval(config, subprocess_init) -> dict:
    """PBG's own filtered ranking (its FB15k example's protocol) on the full test set."""
    import attr
    from torchbiggraph.eval import do_eval_and_report_stats
    from torchbiggraph.filtered_eval import FilteredRankingEvaluator

    train_path, valid_path, test_path = config.edge_paths
    relations = [attr.evolve(r, all_negs=True) for r in config.relations]
    eval_config = attr.evolve(config, edge_paths=[test_path], relations=relations, num_uniform_negs=0)
    started = time.perf_counter()
    evaluator = FilteredRankingEvaluator(eval_config, [test_path, valid_path, train_path])
    final = None
    for edge_path_idx, bucket, stats in do_eval_and_report_stats(eval_config, evaluator=evaluator,
                                                                 subprocess_init=subprocess_init):
        if edge_path_idx is None:
            final = stats
    return {**{k: float(v) for k, v in final.metrics.items()}, "count": final.count,
            "seconds": time.perf_counter() - started}


def _dist_version(name: str) -> str | None:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001 - informational only
        return None


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
