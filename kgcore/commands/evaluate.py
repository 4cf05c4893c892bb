"""``python -m kgcore evaluate RUN_DIR``: filtered link-prediction metrics as JSON."""
from __future__ import annotations

import argparse
import json
import time

from ..training.evaluate import evaluate
from ..runs import load_run


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="filtered link-prediction metrics of a run, as JSON",
        description="Rank every test (or valid) triple's head and tail against all entities, filtering other "
                    "known true triples, and print MRR, mean rank and Hits@1/3/10/50 (both sides, head, tail).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by `kgcore train`")
    parser.add_argument("--split", choices=("test", "valid"), default="test")
    parser.add_argument("--relation", metavar="R", help="only triples of this relation (e.g. the profession relation)")
    parser.add_argument("--unfiltered", action="store_true", help="raw ranks (do not filter known triples)")
    parser.add_argument("--without-sensitive", action="store_true",
                        help="leave out the triples of the sensitive attributes' relations (gender, religion, ...), as "
                             "the debiasing paper's '(filtered)' datasets do")
    parser.add_argument("--device", default="cpu")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_run(args.run_dir, device=args.device)
    started = time.perf_counter()
    metrics = evaluate(loaded.model, loaded.graph, split=args.split, relation=args.relation,
                       filtered=not args.unfiltered, without_sensitive=args.without_sensitive)
    metrics["seconds"] = time.perf_counter() - started
    metrics["run"] = str(loaded.path)
    print(json.dumps(metrics, indent=2))
    return 0
