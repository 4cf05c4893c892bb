"""What every score function offers, apart from any model's parameters (PyKEEN's "interactions").

An interaction scores triples from vectors: g(h, r, t), higher = more plausible. It is the only place a
formula such as TransE's ``-||h + r - t||`` is written; models (representation + interaction + extra loss
terms), the bias measure, the what-if person, the 2-D map and the KL term all ask it.

Shapes: ``h``, ``r``, ``t`` are ``[B, D]`` rows (a relation may also be one row ``[1, D]`` shared by every
row). ``score_tails(h, r, candidates)`` scores each row's (h, r) against every candidate tail
``[N, D]``; ``score_heads(r, t, candidates)`` each row's (r, t) against every candidate head: ``[B, N]``.
"""
from __future__ import annotations

from typing import ClassVar

import torch


class Interaction:
    """A score function g(h, r, t) over entity and relation vectors."""

    name: ClassVar[str]
    label: ClassVar[str]
    #: ``tail_query(h, r)`` is a point of the entity space where the model expects the tail (h + r for
    #: translations), so it can be drawn beside the entities on a map.
    translational: ClassVar[bool] = False
    #: A fused CPU margin-ranking step exists for this score (``kgcore.training.fused``).
    fused_margin_step: ClassVar[bool] = False
    #: Heads are predicted with a relation vector of their own (``score_for_heads`` differs from ``score``),
    #: so training must score corrupted heads and corrupted tails apart (shared negatives do).
    reciprocal: ClassVar[bool] = False

    def relation_dim(self, dim: int) -> int:
        """Width of a relation's row for entity vectors of width ``dim``."""
        return dim

    def initialise(self, entity: torch.Tensor, relation: torch.Tensor) -> None:
        """Fill freshly made entity and relation tables ([N, D], [R, D]) in place: products of three small
        vectors by default (normal, standard deviation 0.1), so early scores are not saturated."""
        torch.nn.init.normal_(entity, std=0.1)
        torch.nn.init.normal_(relation, std=0.1)

    def check_dim(self, dim: int) -> None:
        """Refuse dimensions the score cannot use (complex vectors need an even number of reals)."""

    def score(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """g(h_i, r_i, t_i) row by row: ``[B]``."""
        raise NotImplementedError

    def score_for_heads(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The score head prediction gives each triple: what ``score_heads`` gives the true head. The same as
        ``score`` unless the interaction is ``reciprocal``."""
        return self.score(h, r, t)

    def score_tails(self, h: torch.Tensor, r: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """g(h_i, r_i, c) for every candidate c: ``[B, N]``."""
        raise NotImplementedError

    def score_heads(self, r: torch.Tensor, t: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """g(c, r_i, t_i) for every candidate c: ``[B, N]``."""
        raise NotImplementedError

    def offset_relation(self, r: torch.Tensor) -> torch.Tensor | None:
        """For a score affine in the head vector, the relation r' that scores a vector o added to a head as
        the change it makes, g(h + o, r, t) = g(h, r, t) + g(o, r', t), in every form (``score``,
        ``score_tails``; ``score_heads`` for offsets of candidate heads). None where the score is not affine
        in the head (distances): a moved head is then scored again."""
        return None

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """The entity vector this score rates highest as the tail of (h, r) (for norm-bounded vectors:
        the direction), e.g. h + r for TransE: where to start placing an unknown tail."""
        raise NotImplementedError

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The entity vector this score rates highest as the head of (r, t) (or its direction)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
