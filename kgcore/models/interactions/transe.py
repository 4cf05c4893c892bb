"""TransE (Bordes et al. 2013): the head translated by the relation lands near the tail.

- ``transe-l1`` / ``transe-l2``: g(h, r, t) = -||h + r - t||_p, a negative distance.
- ``transe-dot``: g(h, r, t) = <h + r, t>, the translation compared by dot product (the form both Fisher et
  al. papers write).
- ``transe-dot-reciprocal``: the same score for tails, while heads are predicted as the tails of a reciprocal
  relation with a vector of its own, <t + r', c>. This is how PyTorch-BigGraph, the engine both papers
  trained with, scores "translation" with the dot-product comparator under dynamic relations (one operator
  per side). It matters for the dot product: in <c + r, t> the relation adds the same <r, t> to every
  candidate head c, so a single vector per relation cannot help predict heads at all.

The all-candidates forms are what link prediction and the bias measure need: for L2 and the dot product
they are matrix products; for L1, which has none, a numba kernel serves CPU inference and a broadcast
serves a handful of candidates (the KL term's attribute values).
"""
from __future__ import annotations

import numpy as np
import torch

from ... import kernels
from .base import Interaction

# Below this many [B, N, D] elements an L1 broadcast is cheaper than ``cdist`` and its backward pass.
_BROADCAST_ELEMENTS = 4_000_000


def distance_all(query: torch.Tensor, candidates: torch.Tensor, p_norm: int) -> torch.Tensor:
    """-||q - c||_p for every query row against every candidate row: [B, D] x [N, D] -> [B, N]."""
    if p_norm == 2:
        # ||q - c||^2 = ||q||^2 + ||c||^2 - 2 q.c. The clamp guards the tiny negatives of cancellation, and
        # its floor above zero keeps sqrt's gradient finite when a candidate coincides with the query
        # (a shared negative that is the true tail); sqrt'(0) = inf would turn the step into NaN.
        sq = (query * query).sum(-1, keepdim=True) + (candidates * candidates).sum(-1) - 2.0 * query @ candidates.T
        return -sq.clamp_min(1e-12).sqrt()
    if _use_kernel(query, candidates):
        out = np.empty((query.shape[0], candidates.shape[0]), dtype=np.float32)
        kernels.run_parallel(kernels.negative_l1, query.detach().contiguous().numpy(),
                             candidates.detach().contiguous().numpy(), out)
        return torch.from_numpy(out)
    if query.shape[0] * candidates.shape[0] * query.shape[1] <= _BROADCAST_ELEMENTS:
        return -(query.unsqueeze(1) - candidates.unsqueeze(0)).abs().sum(-1)
    return -torch.cdist(query.unsqueeze(0), candidates.unsqueeze(0), p=1.0).squeeze(0)


def _use_kernel(query: torch.Tensor, candidates: torch.Tensor) -> bool:
    """The numba L1 kernel serves CPU float32 inference; autograd and GPUs take torch's path."""
    needs_grad = torch.is_grad_enabled() and (query.requires_grad or candidates.requires_grad)
    return (kernels.AVAILABLE and not needs_grad and query.device.type == "cpu"
            and query.dtype == torch.float32 and candidates.dtype == torch.float32)


class TransE(Interaction):
    """g(h, r, t) = -||h + r - t||_p."""

    translational = True

    def __init__(self, p_norm: int) -> None:
        self.p_norm = p_norm

    def initialise(self, entity: torch.Tensor, relation: torch.Tensor) -> None:
        """Bordes et al. (2013): uniform in +-6/sqrt(d), relations normalised once."""
        bound = 6.0 / entity.shape[1] ** 0.5
        torch.nn.init.uniform_(entity, -bound, bound)
        torch.nn.init.uniform_(relation, -bound, bound)
        relation.div_(relation.norm(dim=1, keepdim=True).clamp_min(1e-12))

    def score(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # L1 as abs().sum(): the same values and (sub)gradient as vector_norm(ord=1), and faster on a CPU.
        if self.p_norm == 1:
            return -(h + r - t).abs().sum(-1)
        return -torch.linalg.vector_norm(h + r - t, ord=self.p_norm, dim=-1)

    def score_tails(self, h: torch.Tensor, r: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return distance_all(h + r, candidates, self.p_norm)

    def score_heads(self, r: torch.Tensor, t: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return distance_all(t - r, candidates, self.p_norm)  # ||c + r - t|| = ||c - (t - r)||

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return h + r

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return t - r

    def __repr__(self) -> str:
        return f"TransE(p_norm={self.p_norm})"


class TransEL1(TransE):
    name = "transe-l1"
    label = "TransE, L1 distance"
    fused_margin_step = True

    def __init__(self) -> None:
        super().__init__(1)


class TransEL2(TransE):
    name = "transe-l2"
    label = "TransE, L2 distance"

    def __init__(self) -> None:
        super().__init__(2)


class TransEDot(Interaction):
    """g(h, r, t) = <h + r, t>."""

    name = "transe-dot"
    label = "TransE, dot product"
    translational = True

    def initialise(self, entity: torch.Tensor, relation: torch.Tensor) -> None:
        """As PyTorch-BigGraph, the papers' engine: entities normal with standard deviation 0.001, translations
        zero, so every score starts near zero (a wide start saturates the softmax over 1000 negatives)."""
        torch.nn.init.normal_(entity, std=1e-3)
        torch.nn.init.zeros_(relation)

    def score(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return ((h + r) * t).sum(-1)

    def score_tails(self, h: torch.Tensor, r: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return (h + r) @ candidates.T

    def score_heads(self, r: torch.Tensor, t: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return t @ candidates.T + (r * t).sum(-1, keepdim=True)  # <c + r, t> = <c, t> + <r, t>

    def offset_relation(self, r: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(r)  # <h + o + r, t> - <h + r, t> = <o + 0, t>

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return h + r

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return t


class TransEDotReciprocal(TransEDot):
    """<h + r, t> for tails, <t + r', c> for heads: a relation row holds [r, r']."""

    name = "transe-dot-reciprocal"
    label = "TransE, dot product, reciprocal relations"
    reciprocal = True

    def relation_dim(self, dim: int) -> int:
        return 2 * dim

    @staticmethod
    def forward_part(r: torch.Tensor) -> torch.Tensor:
        return r[..., :r.shape[-1] // 2]

    @staticmethod
    def reciprocal_part(r: torch.Tensor) -> torch.Tensor:
        return r[..., r.shape[-1] // 2:]

    def score(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return super().score(h, self.forward_part(r), t)

    def score_for_heads(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return ((t + self.reciprocal_part(r)) * h).sum(-1)

    def score_tails(self, h: torch.Tensor, r: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return super().score_tails(h, self.forward_part(r), candidates)

    def score_heads(self, r: torch.Tensor, t: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return (t + self.reciprocal_part(r)) @ candidates.T

    def offset_relation(self, r: torch.Tensor) -> torch.Tensor:
        """[0, r']: the forward translation adds nothing to o's score; a head moved by o gains <t + r', o>."""
        return torch.cat([torch.zeros_like(self.forward_part(r)), self.reciprocal_part(r)], -1)

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return h + self.forward_part(r)

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return t + self.reciprocal_part(r)
