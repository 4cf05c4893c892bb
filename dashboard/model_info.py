"""What the dashboard says about each model (label, one-line description, place in lists, colour), read
from kgcore's model registry (``kgcore.models.registry``): the one source of these facts."""
from __future__ import annotations

from typing import Iterable

import streamlit as st

INK = "#2e3440"  # for a model the registry does not know (a run from another version)


def _entries() -> dict[str, dict[str, str]]:
    """name -> label, description and colour of every registry entry, in the registry's order."""
    from loaders import code_fingerprint

    return _registry_facts(code_fingerprint("kgcore.models"))


# Kept on disk, keyed by the registry's code: importing kgcore.models imports torch, which the Overview's first
# chart (and the sidebar's run list) should not wait for.
@st.cache_data(show_spinner=False, persist="disk")
def _registry_facts(fingerprint: str) -> dict[str, dict[str, str]]:
    from kgcore.models import MODELS

    return {name: {"label": e.label, "description": e.description, "colour": e.colour} for name, e in MODELS.items()}


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
