"""What the dashboard says about each model (label, one-line description, place in lists, colour), read
from kgcore's model catalogue (``kgcore.models.catalogue``, torch-free): the one source of these facts."""
from __future__ import annotations

from typing import Iterable

INK = "#2e3440"  # for a model the registry does not know (a run from another version)


def _entries() -> dict[str, dict[str, str]]:
    """name -> label, description and colour of every model, in the registry's order (``kgcore.models.catalogue``,
    which imports no torch)."""
    from kgcore.models.catalogue import CATALOGUE

    return {name: {"label": f.label, "description": f.description, "colour": f.colour} for name, f in CATALOGUE.items()}


def model_label(model: str) -> str:
    """The readable name of a model (its registry name when the registry has none)."""
    entry = _entries().get(model)
    return entry["label"] if entry else model


def model_blurb(model: str) -> str:
    entry = _entries().get(model)
    return entry["description"] if entry else ""


def model_colour(model: str) -> str:
    entry = _entries().get(model)
    return entry["colour"] if entry else INK


def model_order(model: str) -> int:
    """The registry's order: the Basic model first, then the debiasing methods."""
    names = list(_entries())
    return names.index(model) if model in names else len(names)


def described_models() -> list[str]:
    """The models the Overview describes, in display order."""
    return list(_entries())


def train_choices(installed: Iterable[str]) -> list[str]:
    """``installed`` models in the registry's order."""
    return sorted(installed, key=model_order)


def run_colour_map(runs) -> dict[str, str]:
    """Colour of each run (``RunInfo``), keyed by its ``short`` label (the charts' legend names) and by its
    path: its model's colour, lighter shades for further runs of the same model (colours.run_colours)."""
    from kgcore.colours import run_colours

    ordered = sorted(runs, key=lambda r: (model_order(r.model), r.origin != "pretrained", r.name))
    by_path = run_colours([(r.path, r.model, model_colour(r.model)) for r in ordered])
    return by_path | {r.short: by_path[r.path] for r in ordered}
