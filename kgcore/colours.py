"""The one colour language of kgcore's pictures: the dashboard's charts, pages and sidebar and the hand-out
report all read it (plain Python, no torch: the dashboard's first chart imports it cheaply).

- Attribute values are coloured by *value*, never by position: "female" and "male" have fixed colours,
  every other value gets a colour from a stable hash of its label into ``VALUE_PALETTE`` (collisions within
  one attribute's values move to the next free colour, in the values' sorted order, so the same set of
  values always gets the same colours on every page). "Not recorded" and "other values" are grey.
- Models have their own colours (``kgcore.models.registry``, read through ``model_info``), chosen never
  to be one of these; several runs of one model get lighter shades of the model's colour (``run_colours``).
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

# Colour-blind-safe and not blue/pink; the model colours (greys, blue, lilac) stay clear of all of them.
FIXED_VALUES = {"female": "#d95f02", "male": "#1b9e77"}
VALUE_PALETTE = ("#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#b2182b", "#6a3d9a")
MISSING = "#c8ccd2"  # "not recorded", "other values", "not X"
INK = "#2e3440"
NEUTRAL = "#9aa5b1"
HELD = "#bf616a"  # a profession the person holds in the graph
MARK = "#4c566a"  # a profession that is not held

_GREY_LABELS = ("not recorded", "unknown", "other values")


def _is_grey(label: str) -> bool:
    text = label.strip().lower()
    return text in _GREY_LABELS or text.startswith("not ") or text.endswith(" other values")


def _slot(label: str) -> int:
    return hashlib.sha1(label.strip().lower().encode("utf-8")).digest()[0] % len(VALUE_PALETTE)


def value_colours(values: Iterable[str]) -> dict[str, str]:
    """Colour of each value of one attribute (pass all its values, in any order)."""
    colours: dict[str, str] = {}
    taken: set[str] = set()
    for label in sorted(set(values), key=lambda v: v.strip().lower()):
        fixed = FIXED_VALUES.get(label.strip().lower())
        if fixed:
            colours[label] = fixed
        elif _is_grey(label):
            colours[label] = MISSING
    for label in sorted(set(values) - set(colours), key=lambda v: v.strip().lower()):
        slot = _slot(label)
        for offset in range(len(VALUE_PALETTE)):
            candidate = VALUE_PALETTE[(slot + offset) % len(VALUE_PALETTE)]
            if candidate not in taken:
                break
        else:  # more values than colours: repeats cannot be avoided, keep the hashed one
            candidate = VALUE_PALETTE[slot]
        taken.add(candidate)
        colours[label] = candidate
    return colours


def value_colour(value: str, among: Sequence[str] = ()) -> str:
    """Colour of ``value``; ``among``: all values of its attribute (for collision-free colours)."""
    return value_colours([*among, value])[value]


def shade(colour: str, amount: float) -> str:
    """``colour`` mixed with white: ``amount`` 0 keeps it, 1 is white."""
    colour = colour.lstrip("#")
    rgb = [int(colour[i:i + 2], 16) for i in (0, 2, 4)]
    mixed = [round(c + (255 - c) * amount) for c in rgb]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def run_colours(runs: Sequence[tuple[str, str, str]]) -> dict[str, str]:
    """Colour per run key for (key, model, model colour) triples: the first run of a model takes the model's
    colour, later ones lighter shades of it."""
    seen: dict[str, int] = {}
    colours = {}
    for key, model, colour in runs:
        index = seen.get(model, 0)
        seen[model] = index + 1
        colours[key] = shade(colour, min(0.22 * index, 0.66))
    return colours


def swatch(colour: str, text: str) -> str:
    """HTML of a small colour square before ``text`` (sidebar and captions; ``text`` must be escaped)."""
    return (f'<span style="display:inline-block;width:0.8em;height:0.8em;border-radius:2px;'
            f'background:{colour};margin-right:0.35em;vertical-align:-0.05em"></span>{text}')
