"""The networks of Bose & Hamilton's adversarial filtering (ICML 2019; their code's ``AttributeFilter``
and ``FBDemParDisc``): a filter per sensitive attribute from the embedding space to itself, a
discriminator per attribute from a (filtered) embedding to logits over the attribute's values, and the
discriminators' loss with its gradient in closed form. Both networks also run through
``kgcore.models.mlp``, whose hand-written passes the fused training step uses.

Shapes as their code builds them (d the embedding dimension, V the attribute's number of values):

- filter: Linear(d, 2d), LeakyReLU, Linear(2d, d), LeakyReLU, BatchNorm1d(d) (the last optional, for
  runs saved before it existed);
- discriminator: Linear(d, 2d), LeakyReLU, Linear(2d, d), LeakyReLU, Linear(d, d/2), LeakyReLU,
  Linear(d/2, V), trained with the cross-entropy (their binary attributes use one sigmoid output; a softmax
  over V values is the same classifier for V = 2 and also covers attributes with more values).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import mlp


class AttributeFilter(nn.Module):
    """f_k: a two-layer leaky-ReLU MLP from the embedding space to itself, ending in BatchNorm1d (``norm``).

    While training, the batch norm normalises over the people filtered together (batch statistics) and
    updates its running statistics; at evaluation it uses the running statistics, so a person's filtered
    vector does not depend on who else is filtered. A single person filtered while training also uses the
    running statistics (torch's module refuses a batch of one); ``kgcore.models.mlp`` follows the same rule.
    At evaluation the norm is written as the affine map it then is: torch's CPU batch-norm backward costs
    milliseconds even for one row, and fitting a person (``kgcore.analysis.whatif``) takes a hundred of them."""

    def __init__(self, dim: int, norm: bool = True) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, 2 * dim)
        self.w2 = nn.Linear(2 * dim, dim)
        self.norm = nn.BatchNorm1d(dim) if norm else None

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        out = F.leaky_relu(self.w2(F.leaky_relu(self.w1(emb))))
        norm = self.norm
        if norm is None:
            return out
        if not self.training:  # the running statistics make it an affine map, computed as one
            scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
            return torch.addcmul(norm.bias - norm.running_mean * scale, out, scale)
        if out.shape[0] < 2:  # one person while training: the running statistics, as said above
            return F.batch_norm(out, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0,
                                norm.eps)
        return norm(out)

    def stack(self) -> list[mlp.Layer]:
        """The layers as ``kgcore.models.mlp`` runs them (the same function as ``forward``)."""
        return [(self.w1, True), (self.w2, True)] + ([(self.norm, False)] if self.norm is not None else [])


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
