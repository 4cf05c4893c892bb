"""Command-line arguments shared by commands that load a graph."""
from __future__ import annotations

import argparse

from ..data.datasets import DataSource
from ..errors import SpecError
from ..data.graph import UNSEEN_POLICIES
from ..data.spec import BUILTIN_SPECS, DatasetSpec, parse_attribute_flag


def add_data_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    group = parser.add_argument_group("data (a built-in dataset, or a folder of triples with a spec)")
    source = group.add_mutually_exclusive_group(required=required)
    source.add_argument("--dataset", metavar="NAME",
                        help="built-in dataset: fb15k237 (from --data-dir, $KGCORE_DATA_DIR or the cache) "
                             "or demo (the synthetic demo world)")
    source.add_argument("--data-dir", metavar="DIR", help="folder with train.txt, valid.txt, test.txt "
                        "(head<TAB>relation<TAB>tail; .tsv and .gz also read)")
    group.add_argument("--attribute", action="append", default=[], metavar="NAME=RELATION",
                       help="sensitive attribute stored as person -> value, e.g. gender=P21 (repeatable)")
    group.add_argument("--reversed-attribute", action="append", default=[], metavar="NAME=RELATION",
                       help="sensitive attribute stored as value -> person, e.g. "
                            "ethnicity=/people/ethnicity/people (repeatable)")
    group.add_argument("--target", metavar="RELATION", help="target relation, e.g. P106 (occupation)")
    group.add_argument("--spec", choices=sorted(BUILTIN_SPECS),
                       help="use a built-in spec's relations for a --data-dir (e.g. wikidata: P21, P106, ...)")
    group.add_argument("--labels", metavar="FILE", help="entity labels: TSV id<TAB>label or JSON")
    group.add_argument("--unseen", choices=UNSEEN_POLICIES, default="error",
                       help="valid/test entities absent from train: error (default), drop, or keep")
    group.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE",
                       help="option of a built-in dataset, e.g. n_people=500 or seed=1 for the demo world")
    group.add_argument("--download", action="store_true",
                       help="download a built-in dataset if it is not found locally")


def data_source_from_args(args: argparse.Namespace) -> DataSource:
    attributes = [parse_attribute_flag(a) for a in args.attribute]
    attributes += [parse_attribute_flag(a, reversed_=True) for a in args.reversed_attribute]
    names = [a.name for a in attributes]
    if len(set(names)) != len(names):
        raise SpecError(f"Attribute names must be unique, got {', '.join(names)}.")
    if not args.dataset and not args.data_dir:
        raise SpecError("Name the data: --dataset NAME or --data-dir DIR.")
    for attribute in attributes:
        if args.target and attribute.relation == args.target:
            raise SpecError(f"The attribute {attribute.name} and the target are the same relation ({args.target}); "
                            "the target (e.g. profession) must be another relation than the sensitive attributes.")
    spec = None
    if args.spec:
        spec = BUILTIN_SPECS[args.spec]
    if attributes or args.target:
        # --dataset fb15k237 --attribute ... keeps the built-in spec's target and value labels.
        base = spec or BUILTIN_SPECS.get(args.dataset or "") or DatasetSpec(name="custom")
        spec = DatasetSpec(name=base.name, attributes=tuple(attributes) or base.attributes,
                           target=args.target or base.target, target_name=base.target_name,
                           value_labels=base.value_labels)
    if args.data_dir and spec is None:
        spec = DatasetSpec(name="custom")
    return DataSource(dataset=args.dataset, data_dir=args.data_dir, spec=spec, labels_file=args.labels,
                      unseen=args.unseen, download=args.download, options=parse_options(args.data_option))


def parse_options(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs; values that read as numbers become numbers."""
    options: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"Data option {item!r} must look like KEY=VALUE, e.g. n_people=500.")
        parsed: object = value.strip()
        for cast in (int, float):
            try:
                parsed = cast(value)
                break
            except ValueError:
                continue
        options[key.strip()] = parsed
    return options
