"""The demo world on disk and in numbers: ``write_demo_world`` writes its splits, labels, whitelist and a
README for any other tool; ``world_summary`` sizes a (demo) graph and counts its people by gender.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.graph import KnowledgeGraph
from ..data.overview import attribute_counts, graph_overview
from ..io import write_text
from ..data.triples import write_triples
from ..data.whitelist import builtin_whitelist_text
from .config import DemoWorldConfig
from .vocabulary import DEMO_SPEC, SYNTHETIC_NOTICE
from .world import generate_demo_world


def write_demo_world(folder: str | Path, config: DemoWorldConfig | None = None) -> Path:
    """Write ``train.txt``, ``valid.txt``, ``test.txt``, ``labels.tsv``, ``whitelist.tsv`` and a README.

    The files are byte-identical for the same config. Load them back with ``KnowledgeGraph.from_folder(
    folder, spec=DEMO_SPEC)`` or ``python -m kgcore train --data-dir FOLDER --attribute gender=gender
    --target occupation``."""
    world = generate_demo_world(config)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split, triples in world["splits"].items():
        write_triples(folder / f"{split}.txt", triples)
    write_text(folder / "labels.tsv", "".join(f"{k}\t{v}\n" for k, v in world["labels"].items()))
    write_text(folder / "whitelist.tsv", builtin_whitelist_text("demo"))  # world["whitelist"] with reasons
    write_text(folder / "README.txt", _readme(world))
    return folder


def _readme(world: dict[str, Any]) -> str:
    """The text of README.txt: the notice, the settings, the split sizes and the spec."""
    config: DemoWorldConfig = world["config"]
    sizes = ", ".join(f"{s} {len(t):,}" for s, t in world["splits"].items())
    attributes = " ".join(f"{a.name}={a.relation}" for a in DEMO_SPEC.attributes)
    return (
        f"{SYNTHETIC_NOTICE}\n\n"
        f"Settings: {', '.join(f'{k}={v}' for k, v in config.to_dict().items())}\n"
        f"Triples: {sizes}\n"
        f"Spec: attributes {attributes}; target (profession) {DEMO_SPEC.target}\n"
        "Gender is recorded as binary in this world, as in the real graphs it imitates.\n"
        "whitelist.tsv lists the professions whose gender skew is legitimate (nun, soprano, ...).\n"
    )


def world_summary(graph: KnowledgeGraph) -> dict[str, Any]:
    """Sizes of a (demo) graph and, in its training triples, people and their recorded genders."""
    overview = graph_overview(graph)
    values, people, _ = attribute_counts(overview, "gender")
    return {**graph.summary(), "people": overview["people"], "gender_counts": dict(zip(values, people)),
            "professions": overview["professions"]}


__all__ = ["write_demo_world", "world_summary"]
