"""A knowledge graph embedding model: a representation (entity and relation tables, and what a model does
to them), an interaction (the score function, ``kgcore.models.interactions``) and extra loss terms.

The training loop, evaluation and every analysis talk only to this interface:

- ``score_triples(h, r, t)``: plausibility of given triples (training, single checks);
- ``score_tails(h, r)`` / ``score_heads(r, t)``: scores against every entity (link prediction);
- ``score_head_embeddings`` / ``score_tail_embeddings``: scores from a *free* head or tail embedding,
  differentiable in it, which is what the bias measure perturbs and the what-if person fits;
- ``extra_loss(batch)``: model-specific terms added to the ranking loss (the KL debiasing term);
- ``auxiliary_step(batch)``: a model's own inner optimisation (Bose & Hamilton's discriminators).

Debiased models change how an entity is *represented* (``represent``), add a vector to the head for some
(relation, tail) pairs (``head_adjustment`` and the ``adjust_*_scores`` hooks), or add loss terms; the
score itself is always the interaction's, so one evaluation and one bias measurement serve every model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from .embedding import RowEmbedding, unit_norm
from .interactions import DEFAULT_INTERACTION, build_interaction


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model's architecture (saved in the run's config).

    ``options`` holds the model's own settings, the fields of its registry entry's options dataclass
    (``kgcore.models.registry``)."""

    model: str = "transe"
    dim: int = 100
    interaction: str = DEFAULT_INTERACTION
    # Keep entity vectors on the unit sphere (Bordes et al. 2013); off for recipes on unconstrained vectors.
    entity_norm: bool = True
    debias: list[str] = field(default_factory=list)  # sensitive attributes a debiasing model removes
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Read a saved config, including those written before interactions and typed options existed
        (``p_norm``; ``kl_weight``, ``kl_target``, ``whitelist`` and ``extra`` beside the model)."""
        data = dict(data)
        if "interaction" not in data and "p_norm" in data:
            data["interaction"] = "transe-l2" if int(data["p_norm"]) == 2 else "transe-l1"
        if "options" not in data:
            data["options"] = _legacy_options(data)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _legacy_options(data: dict[str, Any]) -> dict[str, Any]:
    extra = dict(data.get("extra") or {})
    if data.get("model") == "kl":
        weights = {"*": float(data.get("kl_weight", 1.0)), **extra.get("kl_weights", {})}
        options = {"kl_weight": weights, "kl_target": data.get("kl_target", "uniform"),
                   "whitelist": data.get("whitelist", [])}
        if "kl_direction" in extra:
            options["kl_direction"] = extra["kl_direction"]
        return options
    if data.get("model") == "bose" and isinstance(extra.get("sample_mask"), bool):
        extra["sample_mask"] = "on" if extra["sample_mask"] else "off"
    return extra


class KGEModel(nn.Module):
    """Entity and relation tables scored by an interaction, with hooks debiasing models override.

    On its own it is the Basic model of the debiasing paper (TransE there; any interaction here)."""

    name: ClassVar[str] = "transe"

    def __init__(self, num_entities: int, num_relations: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.num_entities = num_entities
        self.num_relations = num_relations
        self.dim = config.dim
        self.interaction = build_interaction(config.interaction, config.dim)
        # Row-sparse tables: a step updates only the rows the batch touched (see kgcore.models.embedding).
        self.entity = RowEmbedding(num_entities, config.dim, constraint=unit_norm if config.entity_norm else None)
        self.relation = RowEmbedding(num_relations, self.interaction.relation_dim(config.dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The interaction's initialisation (``Interaction.initialise``), then the entities' constraint."""
        with torch.no_grad():
            self.interaction.initialise(self.entity.weight, self.relation.weight)
            if self.entity.constraint is not None:
                self.entity.weight.copy_(self.entity.constraint(self.entity.weight))

    # ------------------------------------------------------------------ representations
    def represent(self, emb: torch.Tensor, ids: torch.Tensor | None) -> torch.Tensor:
        """Map base entity embeddings to the vectors scored (identity here; filters for Bose)."""
        return emb

    def entity_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        return self.represent(self.entity(ids), ids)

    def all_entity_vectors(self) -> torch.Tensor:
        return self.represent(self.entity.weight, None)

    def relation_vector(self, relation: int | torch.Tensor, device: torch.device) -> torch.Tensor:
        """One relation's vector as a row ``[1, D]`` that broadcasts against every query."""
        return self.relation(torch.as_tensor(relation, device=device).reshape(1))

    def head_adjustment(self, heads: torch.Tensor | None, relations: torch.Tensor,
                        tails: torch.Tensor | None) -> torch.Tensor | None:
        """Extra vector added to the head for specific (relation, tail) pairs, or, with ``tails`` None, for every
        tail of the relation: [B, D], or None when there is none (the KL model's attribute vectors). Scoring
        against candidate tails adds the tail-free one to the head before ``adjust_tail_scores``."""
        return None

    def head_adjustments(self, h: torch.Tensor, r: torch.Tensor,
                         t: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``head_adjustment`` without a tail and with the tails ``t``, together (a model may share work)."""
        return self.head_adjustment(h, r, None), self.head_adjustment(h, r, t)

    def adjust_tail_scores(self, scores: torch.Tensor, h: torch.Tensor, r: torch.Tensor,
                           candidates: torch.Tensor | None, head: torch.Tensor, relation: torch.Tensor,
                           candidate_vectors: torch.Tensor) -> torch.Tensor:
        """Hook for models whose head vector depends on the tail: ``scores`` [B, N] of (h_b, r_b, c) were
        computed from the head vectors ``head`` [B, D], relation vectors ``relation`` [B or 1, D] and the
        candidates' vectors ``candidate_vectors`` [N, D]
        (already holding ``head_adjustment`` without a tail; for ``score_head_embeddings`` built from the free
        head, so adjusted scores stay differentiable)."""
        return scores

    def adjust_head_scores(self, scores: torch.Tensor, r: torch.Tensor, t: torch.Tensor,
                           candidates: torch.Tensor | None, tail: torch.Tensor, relation: torch.Tensor,
                           candidate_vectors: torch.Tensor) -> torch.Tensor:
        """The same hook for head prediction: ``scores`` [B, N] of candidate heads c for (c, r_b, t_b)."""
        return scores

    # ------------------------------------------------------------------ scoring
    def score_triples(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor, for_heads: bool = False) -> torch.Tensor:
        """Scores of given triples [B]; ``for_heads``: as head prediction scores them (differs from tail
        prediction only for reciprocal interactions)."""
        head, tail = self.entity_vectors(torch.cat([h, t])).split(h.shape[0])
        head = self._with_adjustment(head, h, r, t)
        score = self.interaction.score_for_heads if for_heads else self.interaction.score
        return score(head, self.relation(r), tail)

    def _with_adjustment(self, head: torch.Tensor, h: torch.Tensor, r: torch.Tensor,
                         t: torch.Tensor | None = None) -> torch.Tensor:
        adjust = self.head_adjustment(h, r, t)
        return head if adjust is None else head + adjust

    def _candidates(self, candidates: torch.Tensor | None) -> torch.Tensor:
        return self.all_entity_vectors() if candidates is None else self.entity_vectors(candidates)

    def score_tails(self, h: torch.Tensor, r: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of (h, r, c) for every candidate entity c (all entities by default): [B, N]."""
        head, relation = self._with_adjustment(self.entity_vectors(h), h, r), self.relation(r)
        vectors = self._candidates(candidates)
        scores = self.interaction.score_tails(head, relation, vectors)
        return self.adjust_tail_scores(scores, h, r, candidates, head, relation, vectors)

    def score_heads(self, r: torch.Tensor, t: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of (c, r, t) for every candidate entity c (all entities by default): [B, N]."""
        tail, relation = self.entity_vectors(t), self.relation(r)
        vectors = self._candidates(candidates)
        scores = self.interaction.score_heads(relation, tail, vectors)
        return self.adjust_head_scores(scores, r, t, candidates, tail, relation, vectors)

    def score_against_pool(self, pos: torch.Tensor, pool: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each positive against every pool entity as its tail and as its head (shared negatives, the papers'
        training), with one lookup of the heads, tails and pool: the positives' scores [B] and the pool's
        [B, 2K] (tails first), one ranking problem per positive. A reciprocal interaction scores a positive
        differently for each side, so there the two sides are two ranking problems, as PyTorch-BigGraph's
        softmax loss has them: positives [2B] (as tail prediction scores them, then as head prediction does)
        and the pool [2B, K]."""
        h, r, t = pos[:, 0], pos[:, 1], pos[:, 2]
        batch = pos.shape[0]
        head, tail, pool_vectors = self.entity_vectors(torch.cat([h, t, pool])).split([batch, batch, pool.numel()])
        relation = self.relation(r)
        for_any_tail, for_own_tail = self.head_adjustments(h, r, t)
        adjusted = head if for_own_tail is None else head + for_own_tail
        for_tails = self.interaction.score(adjusted, relation, tail)
        any_tail = head if for_any_tail is None else head + for_any_tail
        as_tails = self.adjust_tail_scores(self.interaction.score_tails(any_tail, relation, pool_vectors),
                                           h, r, pool, any_tail, relation, pool_vectors)
        as_heads = self.adjust_head_scores(self.interaction.score_heads(relation, tail, pool_vectors),
                                           r, t, pool, tail, relation, pool_vectors)
        if not self.interaction.reciprocal:
            return for_tails, torch.cat([as_tails, as_heads], dim=1)
        for_heads = self.interaction.score_for_heads(adjusted, relation, tail)
        return torch.cat([for_tails, for_heads]), torch.cat([as_tails, as_heads], dim=0)

    def score_head_embeddings(self, head_emb: torch.Tensor, r: int | torch.Tensor, tails: torch.Tensor,
                              heads: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of (head_emb, r, t) for each row of ``head_emb`` [B, D] and each tail in ``tails`` [T].

        ``head_emb`` is a *base* embedding (before ``represent``), so the bias measure can move a person's
        embedding and see every model's response through the same call. Differentiable in ``head_emb``.
        ``heads`` (entity ids of the rows) lets models add per-person terms."""
        relation = self.relation_vector(r, head_emb.device)
        head = self.represent(head_emb, heads)
        if heads is None:
            return self.interaction.score_tails(head, relation, self.entity_vectors(tails))
        r_ids = torch.full((head_emb.shape[0],), int(r), dtype=torch.long, device=head_emb.device)
        head = self._with_adjustment(head, heads, r_ids)
        vectors = self.entity_vectors(tails)
        scores = self.interaction.score_tails(head, relation, vectors)
        return self.adjust_tail_scores(scores, heads, r_ids, tails, head, relation, vectors)

    def score_tail_embeddings(self, tail_emb: torch.Tensor, r: int | torch.Tensor, heads: torch.Tensor,
                              tails: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of (h, r, tail_emb) for each row of the free *base* tail embedding ``tail_emb`` [B, D] and
        each entity head in ``heads`` [H]: [B, H]; differentiable in ``tail_emb`` (attributes stored value ->
        person, such as FB15k-237's ethnicity). ``tails``: entity ids of the rows, for ``represent``.
        Head adjustments are not applied: they add vectors to people as heads, and here the person is the
        tail."""
        relation = self.relation_vector(r, tail_emb.device)
        return self.interaction.score_heads(relation, self.represent(tail_emb, tails), self.entity_vectors(heads))

    # ------------------------------------------------------------------ training hooks
    def trainable_dense_parameters(self) -> list[nn.Parameter]:
        """Parameters the training loop's dense optimizer updates (embedding tables have their own).
        Models with an inner optimisation (Bose's discriminators) leave those parameters out."""
        return [p for p in self.parameters() if p.requires_grad]

    def extra_loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named loss terms added to the ranking loss for this batch of positive triples."""
        return {}

    def supports_fused_step(self) -> bool:
        """Whether ``fused_step`` computes this model's training step when its interaction has a fused
        margin step (``kgcore.training.fused.applies`` checks the rest: margin loss, CPU, float32)."""
        return True

    def fused_step(self, pos: torch.Tensor, neg: torch.Tensor, margin: float) -> tuple[float, dict[str, torch.Tensor]]:
        """One training step's loss and extra terms with the ranking part in the fused kernel
        (``kgcore.training.fused``): gradients go straight to the tables' ``pending`` lists (and to
        ``.grad`` of dense parameters), so the returned terms need no backward pass unless they require grad."""
        from ..training import fused

        return fused.margin_l1_step(self, pos, neg, margin), self.extra_loss(pos)

    def auxiliary_step(self, batch: torch.Tensor) -> dict[str, float]:
        """An inner optimisation the model runs each step (adversaries); returns logged values."""
        return {}

    def inner_optimizer_state(self) -> dict | None:
        """The state of an optimizer the model runs itself (Bose's discriminators), kept in training checkpoints
        so that a resumed training continues exactly; None when there is none."""
        return None

    def load_inner_optimizer_state(self, state: dict | None) -> None:
        """Restore ``inner_optimizer_state`` from a checkpoint."""

    def extra_state(self) -> dict[str, Any]:
        """JSON-serialisable facts the model needs besides its weights (e.g. resolved whitelist ids)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Refuse a saved ``extra_state`` that does not fit this model on this graph."""
