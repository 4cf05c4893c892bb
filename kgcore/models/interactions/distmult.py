"""DistMult (Yang et al. 2015): g(h, r, t) = <h, r, t> = sum_k h_k r_k t_k, a diagonal bilinear score."""
from __future__ import annotations

import torch

from .base import Interaction


class DistMult(Interaction):
    name = "distmult"
    label = "DistMult"

    def score(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (h * r * t).sum(-1)

    def score_tails(self, h: torch.Tensor, r: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return (h * r) @ candidates.T

    def score_heads(self, r: torch.Tensor, t: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return (r * t) @ candidates.T

    def offset_relation(self, r: torch.Tensor) -> torch.Tensor:
        return r  # linear in the head

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return h * r

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return r * t
