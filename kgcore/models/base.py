"""The model interface every KG embedding model here implements, and TransE itself.

The training loop, evaluation and bias measurement talk only to this interface:

- ``score_triples(h, r, t)``: plausibility of given triples (training, single checks);
- ``score_tails(h, r)`` / ``score_heads(r, t)``: scores against every entity (link prediction);
- ``score_head_embeddings(h_emb, r, tails, heads)``: scores from a *free* head embedding, differentiable
  in it, which is what the bias measurement perturbs;
- ``extra_loss(batch)``: model-specific terms added to the ranking loss (the KL debiasing term);
- ``after_step(batch)``: constraints after each optimizer step (TransE's entity normalisation);
- ``auxiliary_step(batch)``: a model's own inner optimisation (Bose & Hamilton's discriminators).

Debiased models change how an entity is *represented* (``represent``) or add loss terms; scoring stays
TransE's, so one evaluation and one bias measurement serve all three models.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from .embedding import RowEmbedding, unit_norm
from .interactions import transe_score, transe_score_all


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model's architecture (saved in the run's config)."""

    model: str = "transe"
    dim: int = 100
    p_norm: int = 1
    # Keep entity vectors on the unit sphere (Bordes et al. 2013); off for recipes that use a
    # margin-based sigmoid loss on unconstrained vectors (Sun et al. 2019).
    entity_norm: bool = True
    # Debiasing options (used by the ``kl`` and ``bose`` models).
    debias: list[str] = field(default_factory=list)
    kl_weight: float = 1.0
    kl_target: str = "uniform"
    whitelist: list[list[str]] = field(default_factory=list)  # [[relation, tail-or-"*"], ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class KGEModel(nn.Module):
    """TransE entity/relation embeddings with overridable representation hooks."""

    name: ClassVar[str] = "transe"

    def __init__(self, num_entities: int, num_relations: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.num_entities = num_entities
        self.num_relations = num_relations
        self.dim = config.dim
        self.p_norm = config.p_norm
        # Row-sparse tables: a step updates only the rows the batch touched (see kgcore.models.embedding).
        self.entity = RowEmbedding(num_entities, config.dim, constraint=unit_norm if config.entity_norm else None)
        self.relation = RowEmbedding(num_relations, config.dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Bordes et al. (2013): uniform in +-6/sqrt(d), relations normalised once, entities every step."""
        bound = 6.0 / math.sqrt(self.dim)
        nn.init.uniform_(self.entity.weight, -bound, bound)
        nn.init.uniform_(self.relation.weight, -bound, bound)
        with torch.no_grad():
            self.relation.weight.copy_(unit_norm(self.relation.weight))
            self.normalize_entities()

    @torch.no_grad()
    def normalize_entities(self) -> None:
        self.entity.weight.copy_(unit_norm(self.entity.weight))

    # ------------------------------------------------------------------ representations
    def represent(self, emb: torch.Tensor, ids: torch.Tensor | None) -> torch.Tensor:
        """Map base entity embeddings to the vectors scored (identity for TransE; filters for Bose)."""
        return emb

    def entity_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        return self.represent(self.entity(ids), ids)

    def all_entity_vectors(self) -> torch.Tensor:
        return self.represent(self.entity.weight, None)

    def head_adjustment(self, heads: torch.Tensor | None, relations: torch.Tensor,
                        tails: torch.Tensor | None) -> torch.Tensor | None:
        """Extra vector added to the head for specific (relation, tail) pairs; None when there is none.

        The attribute embeddings of the KL model use it; TransE and Bose have none.
        """
        return None

    # ------------------------------------------------------------------ scoring
    def score_triples(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        head, tail = self.entity_vectors(torch.cat([h, t])).split(h.shape[0])
        adjust = self.head_adjustment(h, r, t)
        if adjust is not None:
            head = head + adjust
        return transe_score(head, self.relation(r), tail, self.p_norm)

    def score_tails(self, h: torch.Tensor, r: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of (h, r, c) for every candidate entity c: [B, N]."""
        query = self.entity_vectors(h) + self.relation(r)
        cand = self.all_entity_vectors() if candidates is None else self.entity_vectors(candidates)
        scores = transe_score_all(query, cand, self.p_norm)
        return self._adjust_tail_scores(scores, h, r, candidates, query=query)

    def score_heads(self, r: torch.Tensor, t: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of (c, r, t) for every candidate entity c: [B, N]."""
        query = self.entity_vectors(t) - self.relation(r)
        cand = self.all_entity_vectors() if candidates is None else self.entity_vectors(candidates)
        scores = transe_score_all(query, cand, self.p_norm)
        return self._adjust_head_scores(scores, r, t, candidates, query=query)

    def _adjust_tail_scores(self, scores: torch.Tensor, h: torch.Tensor, r: torch.Tensor,
                            candidates: torch.Tensor | None, query: torch.Tensor | None = None) -> torch.Tensor:
        """Hook for models whose head vector depends on the tail (attribute embeddings).

        ``query`` is the head-side query h + r each row was scored with ([B, D]; for
        ``score_head_embeddings`` built from the free head embedding, so adjusted scores stay
        differentiable in it)."""
        return scores

    def _adjust_head_scores(self, scores: torch.Tensor, r: torch.Tensor, t: torch.Tensor,
                            candidates: torch.Tensor | None, query: torch.Tensor | None = None) -> torch.Tensor:
        """Same hook for head prediction: ``scores`` [B, N] of candidate heads c for (c, r_b, t_b);
        ``query`` is t - r ([B, D])."""
        return scores

    def score_head_embeddings(self, head_emb: torch.Tensor, r: int | torch.Tensor, tails: torch.Tensor,
                              heads: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of (head_emb, r, t) for each row of ``head_emb`` [B, D] and each tail in ``tails`` [T].

        ``head_emb`` is a *base* embedding (before ``represent``), so the bias measurement can move a
        person's embedding and see every model's response through the same call. Differentiable in
        ``head_emb``. ``heads`` (entity ids of the rows) lets models add per-person terms.
        """
        rel = self.relation(torch.as_tensor(r, device=head_emb.device).reshape(1)).squeeze(0)
        query = self.represent(head_emb, heads) + rel
        scores = transe_score_all(query, self.entity_vectors(tails), self.p_norm)
        if heads is not None:
            r_ids = torch.full((head_emb.shape[0],), int(r), dtype=torch.long, device=head_emb.device)
            scores = self._adjust_tail_scores(scores, heads, r_ids, tails, query=query)
        return scores

    # ------------------------------------------------------------------ training hooks
    def trainable_dense_parameters(self) -> list[nn.Parameter]:
        """Parameters the training loop's dense optimizer updates (embedding tables have their own).

        Models with an inner optimisation (Bose's discriminators) leave those parameters out.
        """
        return [p for p in self.parameters() if p.requires_grad]

    def extra_loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named loss terms added to the ranking loss for this batch of positive triples."""
        return {}

    def supports_fused_step(self) -> bool:
        """Whether ``fused_step`` computes this model's training step (``kgcore.training.fused.applies`` checks the
        rest: L1, margin loss, CPU). Off unless a model says so."""
        return False

    def fused_step(self, pos: torch.Tensor, neg: torch.Tensor, margin: float) -> tuple[float, dict[str, torch.Tensor]]:
        """One training step's loss and extra terms with the ranking part in the fused kernel
        (``kgcore.training.fused``): gradients go straight to the tables' ``pending`` lists (and to ``.grad`` of
        dense parameters), so the returned terms need no backward pass unless they require grad."""
        from ..training import fused

        return fused.margin_l1_step(self, pos, neg, margin), self.extra_loss(pos)

    def after_step(self, touched_entities: torch.Tensor | None) -> None:
        """Constraints beyond the tables' own (entities are kept on the unit sphere by their table's
        ``constraint`` as the optimizer updates them)."""

    def auxiliary_step(self, batch: torch.Tensor) -> dict[str, float]:
        """An inner optimisation the model runs each step (adversaries); returns logged values."""
        return {}

    def extra_state(self) -> dict[str, Any]:
        """JSON-serialisable facts the model needs besides its weights (e.g. resolved whitelist ids)."""
        return {}


class TransE(KGEModel):
    """Bordes et al. (2013): h + r ~ t, with L1 or L2 distance."""

    name = "transe"

    def supports_fused_step(self) -> bool:
        return True
