"""The networks of Bose & Hamilton's adversarial filtering (ICML 2019; their code's ``AttributeFilter``
and ``FBDemParDisc``): a filter per sensitive attribute from the embedding space to itself, a
discriminator per attribute from a (filtered) embedding to logits over the attribute's values, and the
discriminators' loss with its gradient in closed form. Both networks also run through
``kgcore.models.mlp``, whose hand-written passes the fused training step uses."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import mlp


class AttributeFilter(nn.Module):
    """f_k: a two-layer MLP from the embedding space to itself."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, 2 * dim)
        self.w2 = nn.Linear(2 * dim, dim)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.w2(F.leaky_relu(self.w1(emb))))

    def stack(self) -> list[mlp.Layer]:
        """The layers as ``kgcore.models.mlp`` runs them (the same function as ``forward``)."""
        return [(self.w1, True), (self.w2, True)]


class AttributeDiscriminator(nn.Module):
    """D_k: a four-layer MLP from a (filtered) embedding to logits over the attribute's values."""

    def __init__(self, dim: int, num_values: int) -> None:
        super().__init__()
        half = max(1, dim // 2)
        self.layers = nn.ModuleList([nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim), nn.Linear(dim, half)])
        self.out = nn.Linear(half, num_values)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            emb = F.leaky_relu(layer(emb))
        return self.out(emb)

    def stack(self) -> list[mlp.Layer]:
        """The layers as ``kgcore.models.mlp`` runs them (the same function as ``forward``)."""
        return [(layer, True) for layer in self.layers] + [(self.out, False)]


def adversary_loss(logits: torch.Tensor, labels: torch.Tensor, kind: str,
                   weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """L_D of one discriminator and its gradient with respect to ``logits``: the ``weights``-weighted mean
    (a person appearing twice in a batch counts twice, as in their code) of the cross-entropy -log p_y
    (``ce``) or of the L1 error 1 - p_y of the true value's probability (``l1``).

    With s_i = w_i / sum(w), the gradients are s_i (p_i - e_y) for ``ce`` and s_i p_iy (p_i - e_y) for
    ``l1`` (d p_y / d z_j = p_y (e_yj - p_j))."""
    log_p = torch.log_softmax(logits.detach(), dim=1)
    share = weights / weights.sum()
    log_true = log_p.gather(1, labels.unsqueeze(1)).squeeze(1)
    if kind == "ce":
        loss, scale = -(share * log_true).sum(), share
    else:
        true = log_true.exp()
        loss, scale = (share * (1.0 - true)).sum(), share * true
    grad = log_p.exp_().mul_(scale.unsqueeze(1))
    grad.scatter_add_(1, labels.unsqueeze(1), -scale.unsqueeze(1))
    return loss, grad
