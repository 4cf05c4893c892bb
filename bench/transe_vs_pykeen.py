"""kgcore TransE vs PyKEEN TransE on FB15k-237, side by side in one run.

Same vocabulary, splits, dimension (100), batch size (1024), negatives per positive (1), loss (margin
ranking, margin 1, L1 distance), optimizer (Adam) and epochs. Prints seconds per epoch, their ratio,
filtered test MRR / Hits@10, and filtered test evaluation time for both. Machines are noisy: read ratios,
and compare only figures taken in the same run.

    pip install -r bench/requirements.txt
    python bench/transe_vs_pykeen.py --epochs 50 [--data-dir ../shared/data/fb15k-237]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from kgcore.data.datasets import DataSource
from kgcore.training.evaluate import evaluate
from kgcore.models import ModelConfig, build_model
from kgcore.training.loop import TrainConfig, seed_everything, train

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fb15k-237"


def warm_up_kgcore(graph) -> None:
    """One untimed epoch on a slice of the graph: numba compiles kgcore's kernels on their first call after
    an install or a source change (cached on disk after that), which is not the per-epoch cost compared."""
    from kgcore.data.graph import KnowledgeGraph

    ids = graph.splits["train"][:20_000].tolist()
    small = KnowledgeGraph({"train": [(graph.entities[h], graph.relations[r], graph.entities[t]) for h, r, t in ids]})
    train(build_model(ModelConfig(dim=8, interaction="transe-l1"), small), small,
          TrainConfig(epochs=1, batch_size=1024, loss="margin", num_negatives=1), progress=False)


def run_kgcore(graph, args) -> dict:
    warm_up_kgcore(graph)
    seed_everything(args.seed)
    model = build_model(ModelConfig(dim=args.dim, interaction="transe-l1"), graph)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer="adam",
                         loss="margin", margin=1.0, num_negatives=1, seed=args.seed)
    started = time.perf_counter()
    result = train(model, graph, config, progress=False)
    train_seconds = time.perf_counter() - started
    out = {"seconds_per_epoch": train_seconds / args.epochs,
           "epoch_seconds": [round(r.seconds, 3) for r in result.history]}
    if not args.skip_eval:
        started = time.perf_counter()
        metrics = evaluate(model, graph, "test")
        out.update(eval_seconds=time.perf_counter() - started, mrr=metrics["mrr"], hits10=metrics["hits@10"])
    return out


def run_pykeen(graph, args) -> dict:
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.models import TransE
    from pykeen.training import SLCWATrainingLoop
    from pykeen.triples import TriplesFactory

    def factory(split):
        return TriplesFactory(mapped_triples=graph.splits[split], entity_to_id=graph.entity_to_id,
                              relation_to_id=graph.relation_to_id)

    train_tf, valid_tf, test_tf = factory("train"), factory("valid"), factory("test")
    torch.manual_seed(args.seed)
    model = TransE(triples_factory=train_tf, embedding_dim=args.dim, scoring_fct_norm=1,
                   loss="MarginRankingLoss", loss_kwargs={"margin": 1.0}, random_seed=args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loop = SLCWATrainingLoop(model=model, triples_factory=train_tf, optimizer=optimizer,
                             negative_sampler="basic", negative_sampler_kwargs={"num_negs_per_pos": 1})
    started = time.perf_counter()
    loop.train(triples_factory=train_tf, num_epochs=args.epochs, batch_size=args.batch_size, use_tqdm=False)
    train_seconds = time.perf_counter() - started
    out = {"seconds_per_epoch": train_seconds / args.epochs}
    if not args.skip_eval:
        evaluator = RankBasedEvaluator(filtered=True)
        started = time.perf_counter()
        results = evaluator.evaluate(model, test_tf.mapped_triples, batch_size=args.eval_batch_size,
                                     additional_filter_triples=[train_tf.mapped_triples, valid_tf.mapped_triples],
                                     use_tqdm=False)
        out.update(eval_seconds=time.perf_counter() - started,
                   mrr=float(results.get_metric("both.realistic.inverse_harmonic_mean_rank")),
                   hits10=float(results.get_metric("both.realistic.hits_at_10")))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("KGCORE_DATA_DIR", str(DEFAULT_DATA)))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=0.001, help="Adam learning rate for both (PyKEEN's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-batch-size", type=int, default=256)
    parser.add_argument("--skip-eval", action="store_true", help="time training only")
    parser.add_argument("--only", choices=("kgcore", "pykeen"))
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()

    graph = DataSource(dataset="fb15k237", data_dir=args.data_dir).load()
    print(f"FB15k-237: {graph.summary()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"setting: TransE L1, dim {args.dim}, batch {args.batch_size}, 1 negative, margin ranking (1.0), "
          f"Adam lr {args.lr}, {args.epochs} epochs, seed {args.seed}")
    results = {}
    for name, fn in (("kgcore", run_kgcore), ("pykeen", run_pykeen)):
        if args.only and args.only != name:
            continue
        results[name] = fn(graph, args)
        print(name, json.dumps(results[name]), flush=True)
    print()
    print(f"{'':22s}{'kgcore':>12s}{'pykeen':>12s}{'ratio':>10s}")
    for key, label in (("seconds_per_epoch", "s/epoch"), ("eval_seconds", "test eval s"),
                       ("mrr", "filtered test MRR"), ("hits10", "filtered Hits@10")):
        a, b = (results.get(n, {}).get(key) for n in ("kgcore", "pykeen"))
        fmt = (lambda x: f"{x:12.3f}" if x is not None else f"{'-':>12s}")
        ratio = f"{b / a:9.2f}x" if a and b and key.endswith("seconds") or key == "seconds_per_epoch" and a and b else ""
        print(f"{label:22s}{fmt(a)}{fmt(b)}{ratio:>10s}")
    print("ratio = pykeen / kgcore (how many times faster kgcore is)")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
