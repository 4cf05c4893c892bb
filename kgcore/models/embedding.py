"""Embedding tables whose gradients stay row-sparse without torch's sparse tensors.

A TransE batch touches a few thousand of the ~15k entity rows. ``nn.Embedding(sparse=True)`` plus
``SparseAdam`` spends most of a CPU step building, coalescing and adding sparse tensors; here each lookup
records ``(ids, grad)`` during backward, and ``RowOptimizer`` sums them per unique row and updates only
those rows (``kgcore.training.optimizers``). Any number of lookups per step works (the KL loss looks up
attribute values too).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def unit_norm(rows: torch.Tensor) -> torch.Tensor:
    """Project rows onto the unit L2 sphere (Bordes et al. 2013 normalise entities every step)."""
    return rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)


class _RowGather(torch.autograd.Function):
    """Forward: rows of the table. Backward: hand (ids, grad) to the table, nothing to autograd."""

    @staticmethod
    def forward(ctx, anchor: torch.Tensor, weight: torch.Tensor, ids: torch.Tensor, table: "RowEmbedding"):
        ctx.ids = ids
        ctx.table = table
        return weight.index_select(0, ids)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        ctx.table.pending.append((ctx.ids, grad))
        return None, None, None, None


class RowEmbedding(nn.Module):
    """A ``[num, dim]`` table read with ``table(ids)``; its gradient is collected as rows.

    ``weight`` is a Parameter (so state_dicts and ``.to(device)`` work as for ``nn.Embedding``) with
    ``requires_grad=False``: only ``RowOptimizer`` updates it. Outside training, or under no_grad, a
    lookup is a plain ``index_select``.
    """

    def __init__(self, num: int, dim: int,
                 constraint: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num, dim), requires_grad=False)
        # Applied to every row right after it is updated (TransE keeps entities on the unit sphere).
        self.constraint = constraint
        # A zero-size leaf that requires grad, so autograd calls our backward.
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)
        self.pending: list[tuple[torch.Tensor, torch.Tensor]] = []

    @property
    def num_embeddings(self) -> int:
        return self.weight.shape[0]

    @property
    def embedding_dim(self) -> int:
        return self.weight.shape[1]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():
            return self.weight.index_select(0, ids.reshape(-1)).view(*ids.shape, -1)
        anchor = self._anchor.requires_grad_(True)
        flat = ids.reshape(-1)
        return _RowGather.apply(anchor, self.weight, flat, self).view(*ids.shape, -1)

    def take_gradient(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Unique touched rows and their summed gradients since the last call (None if untouched)."""
        if not self.pending:
            return None
        ids = torch.cat([i for i, _ in self.pending])
        grads = torch.cat([g for _, g in self.pending])
        self.pending.clear()
        rows, inverse = torch.unique(ids, return_inverse=True)
        summed = torch.zeros((rows.numel(), grads.shape[1]), dtype=grads.dtype, device=grads.device)
        summed.index_add_(0, inverse, grads)
        return rows, summed

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
