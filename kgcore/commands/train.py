"""``python -m kgcore train``: train a model and write a run folder."""
from __future__ import annotations

import argparse
import json
import time

from ..data.datasets import DataSource
from ..training.evaluate import evaluate
from ..models import MODELS, ModelConfig, build_model
from ..runs import save_run
from ..training.losses import LOSSES
from ..training.loop import NEGATIVE_MODES, OPTIMIZERS, TrainConfig, train
from .common import add_data_arguments, data_source_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model and write a run folder",
        description="Train TransE (or a debiased variant) and write RUN_DIR with config.json, metrics.json, "
                    "history.csv, model.pt and the id maps. Filtered valid/test metrics are computed at the end.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_arguments(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="transe", help=f"model: {', '.join(sorted(MODELS))}")
    model.add_argument("--dim", type=int, default=100, help="embedding dimension")
    model.add_argument("--p-norm", type=int, choices=(1, 2), default=1, help="TransE distance: L1 or L2")
    model.add_argument("--no-entity-norm", action="store_true",
                       help="do not keep entity vectors on the unit sphere (for the nssa recipe)")
    model.add_argument("--debias", default="", metavar="ATTR[,ATTR]",
                       help="sensitive attributes to remove (kl and bose models), e.g. gender,religion")
    model.add_argument("--kl-weight", type=parse_kl_weights, default="1", metavar="W[,ATTR=W]",
                       help="lambda of the KL term (kl model): one weight for every debiased attribute, "
                            "or per attribute, e.g. 1,religion=0.5 or gender=2,religion=0.5")
    model.add_argument("--kl-target", choices=("uniform", "marginal"), default="uniform",
                       help="target distribution of the KL term")
    model.add_argument("--whitelist", metavar="FILE",
                       help="attribute-embedding whitelist: lines of RELATION<TAB>TAIL (or RELATION alone)")
    opt = parser.add_argument_group("training")
    opt.add_argument("--epochs", type=int, default=50)
    opt.add_argument("--batch-size", type=int, default=1024)
    opt.add_argument("--lr", type=float, default=0.01, help="learning rate")
    opt.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    opt.add_argument("--loss", choices=LOSSES, default="margin",
                     help="margin ranking, softplus, self-adversarial negative sampling (nssa), or softmax cross-entropy")
    opt.add_argument("--margin", type=float, default=1.0, help="margin (gamma for nssa)")
    opt.add_argument("--negatives", type=int, default=1, help="negatives per positive")
    opt.add_argument("--negative-mode", choices=NEGATIVE_MODES, default="corrupt",
                     help="corrupt: a corrupted head or tail per positive; shared: one pool of --negatives "
                          "entities per batch, scored as heads and tails of every positive")
    opt.add_argument("--filtered-negatives", action="store_true",
                     help="redraw negatives that are known true training triples")
    opt.add_argument("--adversarial-temperature", type=float, default=1.0, help="alpha of nssa")
    opt.add_argument("--withhold", action="append", default=[], metavar="RELATION",
                     help="train without this relation's triples (repeatable): an attribute-blind reference, e.g. "
                          "--withhold /people/person/gender, whose leakage probe shows what the rest of the graph "
                          "gives away")
    opt.add_argument("--seed", type=int, default=0)
    opt.add_argument("--eval-every", type=int, default=0, metavar="N",
                     help="validation MRR every N epochs, keeping the best model (0: off)")
    opt.add_argument("--patience", type=int, default=3, help="validation checks without improvement before stopping")
    opt.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to write")
    out.add_argument("--overwrite", action="store_true", help="replace a run already in RUN_DIR")
    out.add_argument("--no-test", action="store_true", help="skip the final filtered test evaluation")
    out.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def parse_kl_weights(text: str) -> tuple[float, dict[str, float]]:
    """``--kl-weight``: "W" for every attribute, "ATTR=W,..." per attribute, or both ("1,religion=0.5");
    returns the default weight (1 unless given) and the per-attribute ones."""
    default, weights = 1.0, {}
    for item in (part.strip() for part in text.split(",")):
        name, _, value = item.rpartition("=")
        name = name.strip()
        try:
            weight = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not a weight: give a number or ATTRIBUTE=NUMBER") from None
        if not weight >= 0 or weight == float("inf"):
            raise argparse.ArgumentTypeError(f"{item!r}: KL weights must be finite and non-negative")
        if "=" not in item:
            default = weight
        elif not name:
            raise argparse.ArgumentTypeError(f"{item!r} names no attribute: give ATTRIBUTE=NUMBER")
        elif name in weights:
            raise argparse.ArgumentTypeError(f"the weight of {name!r} is given twice")
        else:
            weights[name] = weight
    return default, weights


def model_config_from_args(args: argparse.Namespace) -> ModelConfig:
    from ..data.whitelist import read_whitelist  # local: only needed with --whitelist

    return ModelConfig(
        model=args.model, dim=args.dim, p_norm=args.p_norm, entity_norm=not args.no_entity_norm,
        debias=[a.strip() for a in args.debias.split(",") if a.strip()],
        kl_weight=args.kl_weight[0], kl_target=args.kl_target,
        whitelist=read_whitelist(args.whitelist) if args.whitelist else [],
        extra={"kl_weights": args.kl_weight[1]} if args.model == "kl" and args.kl_weight[1] else {},
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import CheckpointError
    from ..runs import holds_run

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise CheckpointError(f"{args.out} is a file, not a run folder; choose another --out.")
    if holds_run(args.out) and not args.overwrite:
        raise CheckpointError(f"{args.out} already holds a run; choose another --out or pass --overwrite.")
    source: DataSource = data_source_from_args(args)
    graph = source.load()
    model_config = model_config_from_args(args)
    train_config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer, loss=args.loss,
        margin=args.margin, num_negatives=args.negatives, negative_mode=args.negative_mode,
        filtered_negatives=args.filtered_negatives,
        adversarial_temperature=args.adversarial_temperature, seed=args.seed, eval_every=args.eval_every,
        patience=args.patience, device=args.device, withheld_relations=args.withhold,
    )
    train_config.validate()
    from ..training.loop import seed_everything

    seed_everything(args.seed)
    model = build_model(model_config, graph)
    started = time.perf_counter()
    checkpoint = Path(args.out) / "checkpoint.pt"  # progress survives an interrupted run
    result = train(model, graph, train_config, progress=not args.quiet, checkpoint_path=checkpoint)
    metrics = {"train_seconds": time.perf_counter() - started}
    if graph.splits["valid"].shape[0]:
        metrics["valid"] = evaluate(model, graph, "valid", progress=not args.quiet)
    if graph.splits["test"].shape[0] and not args.no_test:
        started = time.perf_counter()
        metrics["test"] = evaluate(model, graph, "test", progress=not args.quiet)
        metrics["test_eval_seconds"] = time.perf_counter() - started
    path = save_run(args.out, model, graph, source, train_config, result, metrics, overwrite=args.overwrite)
    checkpoint.unlink(missing_ok=True)
    summary = {"run": str(path), "seconds_per_epoch": result.seconds_per_epoch,
               **{f"{s}_mrr": metrics[s]["mrr"] for s in ("valid", "test") if s in metrics}}
    print(json.dumps(summary, indent=2))
    return 0
