"""``python -m kgcore train``: train a model and write a run folder."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..data.datasets import DataSource
from ..errors import SpecError
from ..models import INTERACTIONS, MODELS, ModelConfig
from ..models.interactions import DEFAULT_INTERACTION
from ..training.pipeline import resume_training, train_and_save
from ..training.presets import PRESETS
from ..training.losses import LOSSES
from ..training.loop import NEGATIVE_MODES, OPTIMIZERS, TrainConfig
from .common import add_data_arguments, data_source_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model and write a run folder",
        description="Train a model (Basic or a debiased one, on any score function) and write RUN_DIR with "
                    "config.json, metrics.json, history.csv, model.pt and the id maps. Filtered valid/test metrics "
                    "are computed at the end.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_arguments(parser, required=False)
    parser.add_argument("--preset", choices=list(PRESETS), metavar="NAME",
                        help="start from a paper's setting; flags given beside it override it. "
                             + "; ".join(f"{p.name}: {p.description}" for p in PRESETS.values()))
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="transe", choices=list(MODELS),
                       help="; ".join(f"{e.name}: {e.label}" for e in MODELS.values()))
    model.add_argument("--interaction", default=DEFAULT_INTERACTION, choices=list(INTERACTIONS),
                       help="score function: " + "; ".join(f"{n}: {c.label}" for n, c in INTERACTIONS.items()))
    model.add_argument("--dim", type=int, default=100, help="embedding dimension")
    model.add_argument("--no-entity-norm", action="store_true",
                       help="do not keep entity vectors on the unit sphere")
    model.add_argument("--debias", default="", metavar="ATTR[,ATTR]",
                       help="sensitive attributes to remove (" + ", ".join(e.name for e in MODELS.values() if e.debiasing)
                            + "), e.g. gender,religion")
    add_model_options(parser)
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
    opt.add_argument("--batch-negatives", type=int, default=0, metavar="B",
                     help="with --negative-mode shared: B of the pool's entities drawn from the batch's own heads "
                          "and tails (PyTorch-BigGraph's batch negatives), the rest uniformly")
    opt.add_argument("--filtered-negatives", action="store_true",
                     help="redraw negatives that are known true training triples")
    opt.add_argument("--adversarial-temperature", type=float, default=1.0, help="alpha of nssa")
    opt.add_argument("--withhold", action="append", default=[], metavar="RELATION",
                     help="train without this relation's triples (repeatable): an attribute-blind reference, e.g. "
                          "--withhold /people/person/gender, whose leakage probe shows what the rest of the graph "
                          "gives away")
    opt.add_argument("--warmup-epochs", type=float, default=0.0,
                     help="linear learning-rate warm-up from 0 over this many epochs")
    opt.add_argument("--seed", type=int, default=0)
    opt.add_argument("--eval-every", type=int, default=0, metavar="N",
                     help="validation MRR every N epochs, keeping the best model (0: off)")
    opt.add_argument("--patience", type=int, default=3, help="validation checks without improvement before stopping")
    opt.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    opt.add_argument("--engine", choices=("kgcore", "pbg"), default="kgcore",
                     help="pbg: train the Basic model (--interaction transe-dot-reciprocal, --optimizer adagrad) "
                          "with PyTorch-BigGraph in its own Python and import the result (kgcore.engines.pbg)")
    opt.add_argument("--pbg-python", metavar="PATH", help="Python with torchbiggraph for --engine pbg "
                                                          "(default: $PBG_PYTHON)")
    out = parser.add_argument_group("output")
    out.add_argument("--out", metavar="RUN_DIR", help="run folder to write (required unless --resume)")
    out.add_argument("--overwrite", action="store_true", help="replace a run already in RUN_DIR")
    out.add_argument("--resume", metavar="RUN_DIR",
                     help="continue the interrupted training in RUN_DIR from its last epoch, with the settings it "
                          "was started with (no other flag is needed)")
    out.add_argument("--no-test", action="store_true", help="skip the final filtered test evaluation")
    out.add_argument("--without-sensitive", action="store_true",
                     help="evaluate without the sensitive relations' triples in valid and test (the debiasing "
                          "paper's '(filtered)' datasets)")
    out.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run, reparse=lambda args, argv: _checked(parser, _with_preset(parser, args, argv)))


def _checked(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """The arguments required unless ``--resume``: a usage error (exit 2) when missing."""
    if not args.resume:
        if not args.out:
            parser.error("the following arguments are required: --out (or --resume RUN_DIR)")
        if not (args.dataset or args.data_dir):
            parser.error("one of the arguments --dataset --data-dir is required (or --resume RUN_DIR)")
    return args


PRESET_FLAGS = {"interaction": "interaction", "dim": "dim", "loss": "loss", "negative_mode": "negative_mode",
                "num_negatives": "negatives", "batch_negatives": "batch_negatives", "batch_size": "batch_size",
                "optimizer": "optimizer", "lr": "lr",
                "warmup_epochs": "warmup_epochs", "epochs": "epochs"}


def _with_preset(parser: argparse.ArgumentParser, args: argparse.Namespace, argv) -> argparse.Namespace:
    """``--preset``: the preset's values become this command's defaults and the command line is read again,
    so every flag given explicitly still wins."""
    if not args.preset:
        return args
    chosen = PRESETS[args.preset]
    settings = {**chosen.model, **chosen.train}
    defaults = {PRESET_FLAGS[key]: value for key, value in settings.items() if key in PRESET_FLAGS}
    if settings.get("entity_norm") is False:
        defaults["no_entity_norm"] = True
    if chosen.without_sensitive:
        defaults["without_sensitive"] = True
    defaults["batch_negatives"] = None  # unless given: the preset's share of the pool drawn (below)
    parser.set_defaults(**defaults)
    args = parser.parse_args(argv[argv.index("train") + 1:] if argv and "train" in argv else argv)
    if args.batch_negatives is None:
        args.batch_negatives = preset_batch_negatives(args.negative_mode, args.negatives, chosen.train)
    return args


def preset_batch_negatives(negative_mode: str, negatives: int, train: dict) -> int:
    """The preset's batch negatives for the pool actually drawn: the same share of ``--negatives`` when that
    is changed, none when the negatives are not a shared pool (they come from the batch only in one)."""
    share = train.get("batch_negatives", 0) / train["num_negatives"] if "num_negatives" in train else 0
    return round(share * negatives) if negative_mode == "shared" else 0


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """One flag per field of every model's options dataclass (``kgcore.models.registry``), grouped by model.
    A flag left unset keeps the model's default; setting one for another model than ``--model`` is an error."""
    for entry in MODELS.values():
        specs = entry.option_specs()
        if not specs:
            continue
        group = parser.add_argument_group(f"{entry.label} model ({entry.name})")
        for spec in specs:
            numeric = type(spec.default) if spec.parse is None and isinstance(spec.default, (int, float)) else None
            group.add_argument(spec.flag, dest=f"option_{entry.name}_{spec.name}", default=argparse.SUPPRESS,
                               choices=spec.choices, type=numeric,
                               metavar=spec.metavar or (None if spec.choices else spec.name.upper()),
                               help=f"{spec.help} (default: {_shown(spec.default)})")


def _shown(default) -> str:
    if isinstance(default, dict):
        return ",".join(f"{v:g}" if k == "*" else f"{k}={v:g}" for k, v in default.items()) or "none"
    return "none" if default in ([], None) else str(default)


def model_config_from_args(args: argparse.Namespace) -> ModelConfig:
    entry = MODELS[args.model]
    debias = [a.strip() for a in args.debias.split(",") if a.strip()]
    options: dict = PRESETS[args.preset].model_options(args.model, debias) if args.preset else {}
    for other in MODELS.values():
        for spec in other.option_specs():
            value = getattr(args, f"option_{other.name}_{spec.name}", None)
            if value is None:
                continue
            if other is not entry:
                raise SpecError(f"{spec.flag} is an option of the {other.label} model ({other.name}), not of "
                                f"{entry.name}; pass --model {other.name} or leave it out.")
            options[spec.name] = spec.parse(value) if spec.parse else value  # KGError: one 'error:' line
    return ModelConfig(model=args.model, dim=args.dim, interaction=args.interaction,
                       entity_norm=not args.no_entity_norm,
                       debias=debias, options=options)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer, loss=args.loss,
        margin=args.margin, num_negatives=args.negatives, negative_mode=args.negative_mode,
        batch_negatives=args.batch_negatives, filtered_negatives=args.filtered_negatives,
        adversarial_temperature=args.adversarial_temperature, seed=args.seed, eval_every=args.eval_every,
        patience=args.patience, device=args.device, withheld_relations=args.withhold,
        warmup_epochs=args.warmup_epochs,
    )


def run(args: argparse.Namespace) -> int:
    if args.resume and args.engine != "kgcore":
        raise SpecError("--resume continues a kgcore training; leave --engine out.")
    if args.resume:
        if args.out and Path(args.out).absolute() != Path(args.resume).absolute():
            raise SpecError("--resume continues the training in its own folder; leave --out out.")
        trained = resume_training(args.resume, progress=not args.quiet)
    else:
        source: DataSource = data_source_from_args(args)
        model_config = model_config_from_args(args)
        train_config = train_config_from_args(args)
        splits = ("valid",) if args.no_test else ("valid", "test")
        if args.engine == "pbg":
            from ..engines.pbg import train_with_pbg

            path, metrics = train_with_pbg(args.out, model_config, train_config, source, python=args.pbg_python,
                                           splits=splits, without_sensitive=args.without_sensitive,
                                           overwrite=args.overwrite)
            print(json.dumps({"run": str(path), "engine": "pbg", "seconds_per_epoch": metrics["seconds_per_epoch"],
                              **{f"{s}_mrr": metrics[s]["mrr"] for s in ("valid", "test") if s in metrics}}, indent=2))
            return 0
        trained = train_and_save(args.out, model_config, train_config, source, progress=not args.quiet,
                                 splits=splits, without_sensitive=args.without_sensitive, overwrite=args.overwrite)
    metrics = trained.metrics
    summary = {"run": str(trained.path), "seconds_per_epoch": trained.result.seconds_per_epoch,
               **{f"{s}_mrr": metrics[s]["mrr"] for s in ("valid", "test") if s in metrics}}
    print(json.dumps(summary, indent=2))
    return 0


class _RaisingParser(argparse.ArgumentParser):
    """argparse whose usage errors raise ``SpecError`` instead of exiting, for checking many command lines."""

    def error(self, message: str):
        raise SpecError(message)


def parse_train_arguments(argv: list[str]) -> argparse.Namespace:
    """``train``'s arguments from ``argv`` (the words after ``train``), presets applied and the required ones
    checked; a usage error raises ``SpecError`` rather than exiting. A fresh parser each call: ``--preset``
    changes its parser's defaults."""
    root = _RaisingParser(prog="python -m kgcore")
    commands = root.add_subparsers(dest="command")
    register(commands)
    parser = commands.choices["train"]
    args = parser.parse_args(argv)
    return args.reparse(args, ["train", *argv])
