"""ComplEx (Trouillon et al. 2016): g(h, r, t) = Re(sum_k h_k r_k conj(t_k)) over complex vectors.

A d-dimensional entity or relation vector holds d/2 complex numbers, real parts first, then imaginary
parts (as LibKGE and PyKEEN store them), so every table stays a real tensor.
"""
from __future__ import annotations

import torch

from ...errors import SpecError
from .base import Interaction


def _halves(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x.chunk(2, dim=-1)


class ComplEx(Interaction):
    name = "complex"
    label = "ComplEx"

    def check_dim(self, dim: int) -> None:
        if dim % 2:
            raise SpecError(f"ComplEx stores complex vectors as real and imaginary halves: the dimension must be "
                            f"even (got {dim}).")

    def offset_relation(self, r: torch.Tensor) -> torch.Tensor:
        return r  # linear in the head

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """h * r: Re(<h r, conj(t)>) is the real dot product of t with it."""
        h_re, h_im = _halves(h)
        r_re, r_im = _halves(r)
        return torch.cat([h_re * r_re - h_im * r_im, h_re * r_im + h_im * r_re], dim=-1)

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """conj(r) * t: Re(<h, r conj(t)>) is the real dot product of h with it."""
        r_re, r_im = _halves(r)
        t_re, t_im = _halves(t)
        return torch.cat([r_re * t_re + r_im * t_im, r_re * t_im - r_im * t_re], dim=-1)

    def score(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self.tail_query(h, r) * t).sum(-1)

    def score_tails(self, h: torch.Tensor, r: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return self.tail_query(h, r) @ candidates.T

    def score_heads(self, r: torch.Tensor, t: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return self.head_query(r, t) @ candidates.T
