"""``python -m kgcore relations``: list a graph's relations with their fact counts (to write a spec)."""
from __future__ import annotations

import argparse

import torch

from .common import add_data_arguments, data_source_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("relations", help="list relations and how many training facts each has",
                                   description="List every relation of a graph with its number of training "
                                               "triples, to choose --attribute and --target relations.")
    add_data_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    graph = data_source_from_args(args).load()
    counts = torch.bincount(graph.splits["train"][:, 1], minlength=graph.num_relations)
    for rel_id in torch.argsort(counts, descending=True).tolist():
        print(f"{int(counts[rel_id]):>8}  {graph.relations[rel_id]}")
    return 0
