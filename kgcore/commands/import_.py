"""``python -m kgcore import pbg|pykeen ...``: a model trained by another engine, written as a kgcore run."""
from __future__ import annotations

import argparse
import json

from ..imports import save_imported_run
from .common import add_data_arguments, data_source_from_args

TRUST_PICKLE_HELP = (
    "load PyKEEN's trained_model.pkl, a full pickled model: unpickling runs whatever code the file names, so "
    "pass this only for a result folder you or someone you trust wrote. Without it only a plain state dict "
    "(a weights-only torch file) is read")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import", help="turn a PyTorch-BigGraph checkpoint or a PyKEEN model into a kgcore run",
        description="Read a model trained by another engine and write it as a run folder that evaluate, bias, "
                    "the probes and the dashboard load. Its entities and relations are matched by name to the "
                    "graph given with --dataset/--data-dir; a model whose score no kgcore interaction "
                    "reproduces exactly is refused.")
    engines = parser.add_subparsers(dest="engine", metavar="ENGINE", required=True)

    pbg = engines.add_parser(
        "pbg", help="a PyTorch-BigGraph checkpoint (needs kgcore[pbg])",
        description="Import a PyTorch-BigGraph checkpoint folder (config.json, embeddings_*.h5, model.v*.h5): "
                    "translation + dot with dynamic relations becomes transe-dot-reciprocal; none, diagonal and "
                    "complex_diagonal become distmult or complex where exact.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    pbg.add_argument("checkpoint", metavar="CHECKPOINT_DIR", help="PBG's checkpoint_path after training")
    pbg.add_argument("--entities", metavar="DIR",
                     help="PBG's entity path (entity_names_*.json, dynamic_rel_names.json); default: the config's "
                          "entity_path, then CHECKPOINT_DIR")
    _add_output(pbg)
    pbg.set_defaults(handler=run_pbg)

    pykeen = engines.add_parser(
        "pykeen", help="a model saved by PyKEEN's pipeline (needs kgcore[pykeen])",
        description="Import a folder written by PyKEEN's result.save_to_directory (trained_model.pkl and "
                    "training_triples/ with its entity and relation maps): TransE (L1/L2), DistMult, ComplEx.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    pykeen.add_argument("result", metavar="RESULT_DIR", help="folder written by result.save_to_directory")
    pykeen.add_argument("--trust-pickle", action="store_true", help=TRUST_PICKLE_HELP)
    pykeen.add_argument("--interaction", choices=("transe-l1", "transe-l2", "distmult", "complex"),
                        help="the score of a RESULT_DIR/state_dict.pt (a state dict does not name it; read "
                             "first, safely, whenever present)")
    _add_output(pykeen)
    pykeen.set_defaults(handler=run_pykeen)


def _add_output(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--out", metavar="RUN_DIR", required=True, help="run folder to write")
    out.add_argument("--overwrite", action="store_true", help="replace a run already in RUN_DIR")


def _write(args: argparse.Namespace, imported) -> int:
    source = data_source_from_args(args)
    path = save_imported_run(args.out, imported, source.load(), source, overwrite=args.overwrite)
    print(json.dumps({"run": str(path), "interaction": imported.interaction, "dim": imported.dim,
                      "entities": len(imported.entity_names), "relations": len(imported.relation_names)}))
    return 0


def run_pbg(args: argparse.Namespace) -> int:
    from ..imports.pbg import read_pbg_checkpoint

    return _write(args, read_pbg_checkpoint(args.checkpoint, args.entities))


def run_pykeen(args: argparse.Namespace) -> int:
    from ..imports.pykeen import read_pykeen_result

    return _write(args, read_pykeen_result(args.result, trust_pickle=args.trust_pickle,
                                           interaction=args.interaction))
