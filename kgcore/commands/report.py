"""``python -m kgcore report RUN [RUN ...] --out report.html``: a self-contained HTML hand-out about trained
runs (comparison table, top lists with counts, the embedding shift of one person; see kgcore.report)."""
from __future__ import annotations

import argparse

from ..analysis.measure import DEFAULT_MIN_SUPPORT


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="write a self-contained HTML hand-out about one or more runs",
        description="Write one HTML file (plotly embedded, works offline) with the runs side by side, the "
                    "professions each links most with every value of an attribute beside the graph's counts, and "
                    "the embedding shift of one person. All runs must be trained on the same graph.",
        epilog="example:\n  python -m kgcore report assets/demo/transe assets/demo/kl assets/demo/bose "
               "--out report.html",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", metavar="RUN", help="run folders written by `kgcore train`")
    parser.add_argument("--sweep", metavar="SWEEP_DIR",
                        help="add a sweep's figures against the KL weight (`kgcore sweep --out`); alone if no RUN")
    parser.add_argument("--out", default="report.html", help="the HTML file to write (default: report.html)")
    parser.add_argument("--attribute", default="gender", help="sensitive attribute of the runs' spec")
    parser.add_argument("--person", default=None,
                        help="person for the embedding shift (entity id or unique label); default: the one whose "
                             "top professions change most in the first run")
    parser.add_argument("--top", type=int, default=20, metavar="K", help="professions per list")
    parser.add_argument("--min-support", type=int, default=DEFAULT_MIN_SUPPORT, metavar="N",
                        help="list only professions with at least N people")
    parser.add_argument("--device", default="cpu")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import KGError
    from ..report import write_report
    from ..runs import load_run

    if not args.runs:
        if not args.sweep:
            raise KGError("Give at least one run folder (RUN) or --sweep SWEEP_DIR.")
        path = write_report([], args.out, sweep=args.sweep)
        print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB); open it in any browser, no internet needed")
        return 0
    first = load_run(args.runs[0], device=args.device)
    runs = [first]
    for path in args.runs[1:]:
        loaded = load_run(path, device=args.device)
        if loaded.graph.num_entities != first.graph.num_entities or loaded.graph.name != first.graph.name:
            raise KGError(f"{path} was trained on {loaded.graph.name}, {args.runs[0]} on {first.graph.name}; "
                          "a report compares runs of one graph.")
        runs.append(loaded)
    path = write_report(runs, args.out, attribute=args.attribute, person=args.person, top=args.top,
                        min_support=args.min_support, sweep=args.sweep)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB); open it in any browser, no internet needed")
    return 0
