"""Ranking losses over a positive's score and its negatives' scores (higher = more plausible)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from .loop import TrainConfig

LOSSES = ("margin", "softplus", "nssa", "softmax")


def ranking_loss(pos: torch.Tensor, neg: torch.Tensor, config: "TrainConfig",
                 mask: torch.Tensor | None = None) -> torch.Tensor:
    """pos [B], neg [B, K] scores (higher = more plausible)."""
    if config.loss == "margin":
        per_neg = F.relu(config.margin - pos.unsqueeze(1) + neg)
        if mask is not None:
            return (per_neg * mask).sum() / mask.sum().clamp_min(1.0)
        return per_neg.mean()
    if config.loss == "softplus":
        per_neg = F.softplus(-pos).unsqueeze(1) + F.softplus(neg)
        if mask is not None:
            return (per_neg * mask).sum() / mask.sum().clamp_min(1.0)
        return per_neg.mean()
    if config.loss == "softmax":
        # Cross-entropy of the positive against its negatives (LibKGE's "kl" loss; Ruffinelli et al. 2020).
        logits = torch.cat([pos.unsqueeze(1), neg if mask is None else neg.masked_fill(mask == 0, float("-inf"))], 1)
        return F.cross_entropy(logits, torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device))
    # Self-adversarial negative sampling (Sun et al., 2019, eq. 5) with margin gamma = config.margin.
    logits = config.adversarial_temperature * neg.detach()
    if mask is not None:  # masked negatives (known true triples) take no weight, however high they score
        logits = logits.masked_fill(mask == 0, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(logits, dim=1), nan=0.0)  # a row with every negative masked: none
    pos_term = -F.logsigmoid(config.margin + pos)
    neg_term = -(weights * F.logsigmoid(-config.margin - neg)).sum(1)
    return (pos_term + neg_term).mean()
