"""``python -m kgcore``: each subcommand lives in ``kgcore/commands/<name>.py`` with ``register(subparsers)``."""
from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import KGError

COMMANDS = ("train", "sweep", "evaluate", "relations", "download", "bias", "demo", "report", "import")
# Commands whose name is a Python keyword live in a module with a trailing underscore.
MODULES = {"import": "import_"}


class OneLineParser(argparse.ArgumentParser):
    """argparse with its usage errors as one ``error:`` line that says where to look, like every other error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m kgcore",
        description="Train knowledge graph embeddings (Basic, KL-debiased, Bose & Hamilton filters; TransE, "
                    "DistMult or ComplEx scores), evaluate link prediction, and measure social bias.",
    )
    parser.add_argument("--version", action="version", version=f"kgcore {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f".commands.{MODULES.get(name, name)}", __package__).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # only a command that passes flags on to another (sweep -> train) takes flags it does not know
        if not hasattr(args, "passed_on"):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.passed_on = extra
    if getattr(args, "reparse", None) is not None:  # a command whose defaults depend on its arguments (--preset)
        args = args.reparse(args, list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.handler(args) or 0)
    except KGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a command that stopped reading (| head)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
