"""Settings of a demo world (``DemoWorldConfig``) and the profession quotas they imply.

The quotas are how the world reproduces ``PROFESSION_SKEWS``: profession sizes by weight and, within each,
women by the table's share, both rounded, so every seed and size shows the table's skew.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import DataError
from .skews import PROFESSION_SKEWS
from .vocabulary import COUNTRIES

# Beside the pretrained demo runs (``python -m kgcore demo --rebuild``): the world's ``kgcore.data.overview`` and
# the settings it was made for, so the dashboard's first page shows the world without generating it.
GRAPH_OVERVIEW_FILE = "graph_overview.json"


@dataclass(frozen=True)
class DemoWorldConfig:
    """Size and seed of a demo world. The defaults give 3,000 people and about 25,000 triples."""

    seed: int = 0
    n_people: int = 3000
    professions_per_person: float = 1.5  # mean, each person holds 1 to 3
    n_countries: int = len(COUNTRIES)
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    citizenship_rate: float = 0.9
    religion_rate: float = 0.3
    ethnicity_rate: float = 0.4
    birthplace_rate: float = 0.85
    field_of_work_rate: float = 0.5
    spouse_rate: float = 0.3
    language_rate: float = 0.5

    def __post_init__(self) -> None:
        def integer(x: Any) -> bool:
            return isinstance(x, int) and not isinstance(x, bool)

        def number(x: Any) -> bool:
            return isinstance(x, (int, float)) and not isinstance(x, bool)

        problems = []
        if not integer(self.seed):
            problems.append(f"seed must be an integer (got {self.seed!r})")
        if not integer(self.n_people) or self.n_people < 100:
            problems.append(f"n_people must be an integer of at least 100 (got {self.n_people!r})")
        if not number(self.professions_per_person) or not 1.0 <= self.professions_per_person <= 3.0:
            problems.append(f"professions_per_person must be between 1 and 3 (got {self.professions_per_person!r})")
        if not integer(self.n_countries) or not 2 <= self.n_countries <= len(COUNTRIES):
            problems.append(f"n_countries must be an integer from 2 to {len(COUNTRIES)} (got {self.n_countries!r})")
        fractions = (self.valid_fraction, self.test_fraction)
        if not all(number(f) and f >= 0 for f in fractions) or sum(fractions) >= 0.5:
            problems.append("valid_fraction and test_fraction must be >= 0 and sum to less than 0.5")
        for name in ("citizenship_rate", "religion_rate", "ethnicity_rate", "birthplace_rate",
                     "field_of_work_rate", "spouse_rate", "language_rate"):
            value = getattr(self, name)
            if not number(value) or not 0.0 <= value <= 1.0:
                problems.append(f"{name} must be between 0 and 1 (got {value!r})")
        if problems:
            raise DataError("Invalid demo world settings: " + "; ".join(problems) + ".")

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> "DemoWorldConfig":
        """Build from ``DataSource.options`` (e.g. ``{"n_people": 500, "seed": 1}``), rejecting unknown keys."""
        options = dict(options or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise DataError(f"Unknown demo world option(s) {', '.join(unknown)}; known options: {', '.join(known)}.")
        return cls(**options)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Integer counts summing to ``total`` in proportion to ``weights`` (Hamilton's method)."""
    weight_sum = sum(weights)
    exact = [total * w / weight_sum for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def round_half_up(x: float) -> int:
    """The nearest integer to a non-negative ``x``, halves rounded up (``round`` rounds them to even)."""
    return int(x + 0.5)


def profession_quotas(config: DemoWorldConfig) -> dict[str, tuple[int, int]]:
    """(women, men) holding each profession: sizes by weight, women by the table's share, both rounded."""
    slots = round_half_up(config.n_people * config.professions_per_person)
    sizes = _largest_remainder(slots, [p.weight for p in PROFESSION_SKEWS])
    quotas = {}
    for profession, size in zip(PROFESSION_SKEWS, sizes):
        women = round_half_up(size * profession.female_share)
        quotas[profession.key] = (women, size - women)
    return quotas


__all__ = ["DemoWorldConfig", "profession_quotas", "round_half_up"]
