"""Labels that never overlap: points' names set in two columns beside a map, joined to their points by
leader lines, spaced at least one line apart (drawing only; the positions of the points come from kgcore)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Callout:
    text: str
    x: float  # the point
    y: float
    text_x: float  # where the label sits (its near edge)
    text_y: float
    side: str  # "left" (label right-aligned at text_x) or "right" (left-aligned)


def _spread(ys: list[float], gap: float, low: float, high: float) -> list[float]:
    """``ys`` (sorted high to low) moved as little as possible so that neighbours are at least ``gap``
    apart and all lie in [low, high] (when they fit)."""
    placed = []
    for y in ys:
        y = min(y, high) if not placed else min(y, placed[-1] - gap)
        placed.append(y)
    overflow = low - placed[-1] if placed else 0.0
    if overflow > 0:  # pushed below the bottom: shift the tail up, keeping the gaps
        for i in range(len(placed) - 1, -1, -1):
            need = low + gap * (len(placed) - 1 - i)
            if placed[i] < need:
                placed[i] = need
    return placed


def callouts(points: Sequence[tuple[str, float, float]], split_x: float, left_x: float, right_x: float,
             gap: float, low: float, high: float) -> list[Callout]:
    """Callouts for (text, x, y) points: points left of ``split_x`` get labels in a column ending at ``left_x``,
    the others in a column starting at ``right_x``; within a column labels are ``gap`` apart (in y units)."""
    out: list[Callout] = []
    for side, column in (("left", left_x), ("right", right_x)):
        chosen = sorted((p for p in points if (p[1] < split_x) == (side == "left")), key=lambda p: -p[2])
        for (text, x, y), ty in zip(chosen, _spread([p[2] for p in chosen], gap, low, high)):
            out.append(Callout(text, x, y, column, ty, side))
    return out


def overlapping(labels: Sequence[Callout], gap: float) -> list[tuple[str, str]]:
    """Pairs of labels in one column closer than ``gap`` (what the tests check is empty)."""
    pairs = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if a.side == b.side and abs(a.text_y - b.text_y) < gap - 1e-9:
                pairs.append((a.text, b.text))
    return pairs
