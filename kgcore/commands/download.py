"""``python -m kgcore download fb15k237``: fetch a public dataset release into the folder kgcore reads."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..data.locations import DATA_DIR_ENV, cache_dir
from ..data.download import DEFAULT_BASE_URL, URL_ENV, download_fb15k237

DATASETS = ("fb15k237",)


def register(subparsers: argparse._SubParsersAction) -> None:
    default_dest = cache_dir() / "fb15k-237"
    parser = subparsers.add_parser(
        "download", help="download FB15k-237 (train/valid/test and label files) with checksum checks",
        description=(
            "Download the public FB15k-237 release (Toutanova and Chen, 2015): train.txt, valid.txt and "
            "test.txt, verified against the SHA-256 sums of the original release, plus entity2wikidata.json "
            "and FB15k_mid2name.txt for readable labels when the mirror has them. Files are written "
            "atomically: a failed or corrupted download never replaces a good copy. Offline, put the files "
            f"in ${DATA_DIR_ENV}/fb15k-237 or {default_dest} by hand."),
        epilog=("examples:\n"
                "  python -m kgcore download fb15k237\n"
                "  python -m kgcore download fb15k237 --dest data/fb15k-237\n"
                "  python -m kgcore download fb15k237 --url http://mirror.example/FB15k-237/\n"
                "then: python -m kgcore train --dataset fb15k237 [--data-dir DEST] ..."),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=DATASETS, help="dataset to download")
    parser.add_argument("--dest", metavar="DIR", default=None,
                        help=f"folder to write the files into (default: {default_dest}, where "
                             "--dataset fb15k237 finds them without --data-dir; $KGCORE_CACHE moves it)")
    parser.add_argument("--url", metavar="BASE", default=None,
                        help=f"base URL under which train.txt, valid.txt, test.txt sit (default: ${URL_ENV}, "
                             f"else {DEFAULT_BASE_URL})")
    parser.add_argument("--force", action="store_true",
                        help="download again even when verified files are already in DIR")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="network timeout per request (default: 60)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    dest = Path(args.dest) if args.dest else cache_dir() / "fb15k-237"
    folder = download_fb15k237(dest, urls=args.url, progress=not args.quiet, force=args.force,
                               timeout=args.timeout)
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    hint = ("python -m kgcore train --dataset fb15k237 ..." if args.dest is None
            else f"python -m kgcore train --dataset fb15k237 --data-dir {folder} ...")
    print(json.dumps({"dataset": args.dataset, "folder": str(folder.resolve()), "files": files, "use": hint},
                     indent=2))
    return 0
