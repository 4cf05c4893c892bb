"""Negative sampling by corrupting heads or tails, optionally filtered against known true triples."""
from __future__ import annotations

import torch


class TripleSet:
    """Membership test for triples via sorted int64 keys (no Python sets on the hot path)."""

    def __init__(self, triples: torch.Tensor, num_entities: int, num_relations: int) -> None:
        self.num_entities = num_entities
        self.num_relations = num_relations
        self.keys = torch.sort(self.encode(triples)).values

    def encode(self, triples: torch.Tensor) -> torch.Tensor:
        return (triples[..., 0] * self.num_relations + triples[..., 1]) * self.num_entities + triples[..., 2]

    def contains(self, triples: torch.Tensor) -> torch.Tensor:
        keys = self.encode(triples)
        pos = torch.searchsorted(self.keys, keys).clamp_max(self.keys.numel() - 1)
        return self.keys[pos] == keys


class NegativeSampler:
    """Replace the head or the tail of each positive with a uniformly drawn entity.

    ``filtered=True`` redraws corruptions that happen to be known true triples (a few rounds; what
    is left after that is masked out of the loss by the returned weight).
    """

    def __init__(self, num_entities: int, num_negatives: int = 1, known: TripleSet | None = None,
                 max_redraws: int = 5) -> None:
        self.num_entities = num_entities
        self.num_negatives = num_negatives
        self.known = known
        self.max_redraws = max_redraws

    def sample(self, positives: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Negatives [B, K, 3] and, when filtering, a float mask [B, K] of valid ones (else None)."""
        batch = positives.shape[0]
        k = self.num_negatives
        negatives = positives.unsqueeze(1).repeat(1, k, 1)
        corrupt_head = torch.rand((batch, k), generator=generator) < 0.5
        column = torch.where(corrupt_head, 0, 2)
        replacement = torch.randint(self.num_entities, (batch, k), generator=generator)
        negatives.scatter_(2, column.unsqueeze(-1), replacement.unsqueeze(-1))
        if self.known is None:
            return negatives, None
        bad = self.known.contains(negatives)
        for _ in range(self.max_redraws):
            if not bool(bad.any()):
                break
            n_bad = int(bad.sum())
            redraw = torch.randint(self.num_entities, (n_bad,), generator=generator)
            idx = bad.nonzero(as_tuple=True)
            negatives[idx[0], idx[1], column[idx]] = redraw
            bad = self.known.contains(negatives)
        return negatives, (~bad).float()
