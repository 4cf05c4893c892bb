"""Score functions ("interactions"), one file each, and their registry: one line per interaction."""
from __future__ import annotations

from ...errors import SpecError
from .base import Interaction
from .complex import ComplEx
from .distmult import DistMult
from .transe import TransEDot, TransEDotReciprocal, TransEL1, TransEL2

INTERACTIONS: dict[str, type[Interaction]] = {cls.name: cls for cls in (
    TransEL1,
    TransEL2,
    TransEDot,
    TransEDotReciprocal,
    DistMult,
    ComplEx,
)}
DEFAULT_INTERACTION = TransEL1.name


def build_interaction(name: str, dim: int) -> Interaction:
    """The interaction called ``name``, checked against the embedding dimension it will score."""
    if name not in INTERACTIONS:
        raise SpecError(f"Unknown interaction {name!r}; choose one of: {', '.join(INTERACTIONS)}.")
    interaction = INTERACTIONS[name]()
    interaction.check_dim(dim)
    return interaction


__all__ = ["DEFAULT_INTERACTION", "INTERACTIONS", "Interaction", "build_interaction"]
