"""Compositional adversarial filters (Bose & Hamilton, "Compositional Fairness Constraints for Graph
Embeddings", ICML 2019; code: github.com/joeybose/Flexible-Fairness-Constraints) on any interaction.

- **Filters** f_k: R^d -> R^d, one per sensitive attribute k, and **discriminators** D_k: R^d -> values of
  attribute k (``kgcore.models.adversaries``, shaped as in their code), applied to the filtered embeddings
  of the people among each positive batch's heads and tails. A filter ends in BatchNorm1d as theirs does
  (``filter_norm="batch"``): while training it normalises over the people filtered together, a step's
  distinct people (each call of a filter is one batch), and at evaluation it uses the running statistics.
- **Compositional encoder**: for a set S of attributes to be invariant to,

      C(u, S) = (1 / |S|) * sum_{k in S} f_k(ENC(u))     (paper, Sec. 3; ``compose="mean"``)
      C(u, S) = sum_{k in S} f_k(ENC(u))                 (their code's ``apply_filters``; ``compose="sum"``)

  applied to the nodes that carry the sensitive attributes, the people of the graph (as their MovieLens
  code filters users and not movies); every other entity keeps its embedding. With S empty the plain
  embedding is used. ``represent`` returns C(u, S), so link prediction, the probes and the bias measure all
  see the filtered vectors.
- **Variants** as [D] (Fisher et al., EMNLP 2020) reports them: ``filters="a"`` ([a], all filters) gives
  every debiased attribute a filter, S sampled per batch while training and every attribute at
  evaluation; ``filters="s"`` ([s], one filter) reads [D]'s "only the relevant filter" as a model trained
  with the filter of the one attribute it is measured on, so it takes exactly one debiased attribute (one
  run per attribute) and S is always that attribute. With one debiased attribute both train the same model.
- **Min-max objective**: encoder and filters minimise

      L_edge - gamma * sum_{k in S} L_{D_k}(D_k(C(u, S)), a_k(u))

  while each D_k minimises its own L_{D_k} with its own optimizer (Adam with AMSGrad, their ``'adam'``
  mode). L_D is the cross-entropy (``adversary_loss="ce"``, their ``--use_cross_entropy`` runs) or their
  other form, E[1 - p(true value)] (``"l1"``, whose encoder term is |S| - sum_k L1_k).
- **Schedule**: with several attributes each batch samples S (each attribute in with probability 1/2,
  their ``--sample_mask=True``; ``sample_mask="auto"``); with one attribute S is always that attribute. The
  encoder steps against the discriminators as they are, then the discriminators take ``d_steps`` steps on
  the detached filtered embeddings of the same batch. At evaluation S is every debiased attribute.

Defaults: ``gamma`` 1 (their ``main_movielens.py``; both terms are batch means, so 1 weighs the ranking
loss and the discriminators' loss alike), ``d_steps`` 5 (``--D_steps`` of their FB15k-237 scripts,
``paper_trans_e.py`` and ``transD_FB.py``), ``d_lr`` 1e-3, ``filters`` "a", ``compose`` "mean" (the
paper's text), ``filter_norm`` "batch". With a large gamma the encoder can learn to make the current
discriminator confidently wrong, which keeps the attribute readable; the benchmarks in ``bench/`` compare
settings.

Runs saved before the filters had batch norm load without it (``load_extra_state``).

Cost: filters run once per distinct person of a step; one forward and backward pass through the
discriminators, written out by hand (``kgcore.models.mlp``), gives both the encoder's gradient and the
discriminators' step (``_adversarial_gradient``); all discriminators step under one optimizer
(``DenseAdam``). With TransE L1 and the margin loss on a CPU the whole step is ``fused_step``: the ranking
loss and its gradient come from the fused kernel run on the batch's filtered vectors, and the filters
(batch norm included) run forward and backward by hand, with no autograd.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..errors import SpecError
from . import mlp
from .adversaries import AttributeDiscriminator, AttributeFilter, adversary_loss
from .attributes import DebiasedAttribute, debiased_tables, describe, entity_labels
from .base import KGEModel, ModelConfig
from .bose_options import BoseOptions
from .catalogue import CATALOGUE, ModelEntry

if TYPE_CHECKING:
    from ..data.graph import KnowledgeGraph
    from ..training.optimizers import DenseAdam

class BoseHamilton(KGEModel):
    """An interaction scored on compositionally filtered entity embeddings, trained against discriminators."""

    name = "bose"

    def __init__(self, graph: "KnowledgeGraph", config: ModelConfig, options: BoseOptions) -> None:
        super().__init__(graph.num_entities, graph.num_relations, config)
        tables = debiased_tables(list(config.debias), graph, "bose")
        self.options = options
        self.gamma = float(options.gamma)
        self.loss_kind = options.adversary_loss
        self.d_steps = int(options.d_steps)
        self.d_lr = float(options.d_lr)
        if options.filters == "s" and len(config.debias) != 1:
            raise SpecError(f"bose with filters 's' trains the filter of the one attribute it is measured on; debias "
                            f"a single attribute per run (got {', '.join(config.debias) or 'none'}), or use "
                            "filters 'a' to compose the filters of several.")
        self.sample_mask = len(config.debias) > 1 if options.sample_mask == "auto" else options.sample_mask == "on"
        self.composition = options.compose
        self.filter_norm = options.filter_norm
        self.attributes: list[DebiasedAttribute] = [describe(t) for t in tables]
        self.filters = self._make_filters(config.dim, options.filter_norm == "batch")
        self.discriminators = nn.ModuleList([AttributeDiscriminator(config.dim, a.num_values)
                                             for a in self.attributes])
        for k, table in enumerate(tables):
            self.register_buffer(f"labels_{k}", entity_labels(table, graph.num_entities))
        is_person = torch.zeros(graph.num_entities, dtype=torch.bool)
        is_person[graph.people] = True
        self.register_buffer("is_person", is_person)
        self._mask: list[int] | None = None  # S of the current training batch
        self._d_optimizer: "DenseAdam | None" = None
        self._step_vectors: tuple[torch.Tensor, torch.Tensor] | None = None
        self._latest_log: dict[str, float] = {}
        self._slot: np.ndarray | None = None  # -1 per entity: ``fused_step``'s scratch for distinct ids

    # ------------------------------------------------------------------ C(u, S)
    def active_attributes(self) -> list[int]:
        """S: the batch's sampled set while training, every debiased attribute otherwise."""
        if self.training and self._mask is not None:
            return self._mask
        return list(range(len(self.attributes)))

    def compose(self, emb: torch.Tensor, active: list[int]) -> torch.Tensor:
        """C(u, S): the mean (``compose="mean"``) or sum (``"sum"``) of f_k(emb) over k in S."""
        total = self.filters[active[0]](emb)
        for k in active[1:]:
            total = total + self.filters[k](emb)
        return total / len(active) if self.composition == "mean" and len(active) > 1 else total

    def represent(self, emb: torch.Tensor, ids: torch.Tensor | None) -> torch.Tensor:
        """C(u, S) for people, the plain embedding for every other entity.

        Free embeddings without ids (``emb`` not the whole table) are taken to be people's."""
        active = self.active_attributes()
        if not active:
            return emb
        if ids is None:
            if emb.shape[0] != self.num_entities:
                return self.compose(emb, active)
            ids = torch.arange(self.num_entities, device=emb.device)
        rows = self.is_person[ids].nonzero(as_tuple=True)[0]
        if rows.numel() == ids.numel():
            return self.compose(emb, active)
        if rows.numel() == 0:
            return emb
        return emb.index_copy(0, rows, self.compose(emb.index_select(0, rows), active))

    def filtered_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        """C(u, S) (``represent``) for entity ids that repeat: each distinct entity is looked up, and each
        distinct person filtered, once (a batch repeats them: a negative shares one side with its
        positive). While training, the filtered people are kept for this step's adversarial term."""
        active = self.active_attributes()
        unique, inverse = torch.unique(ids, return_inverse=True)
        base = self.entity(unique)
        if not active:
            return base.index_select(0, inverse)
        person = self.is_person[unique]
        people_rows = person.nonzero(as_tuple=True)[0]
        if people_rows.numel() == 0:
            return base.index_select(0, inverse)
        filtered = self.compose(base.index_select(0, people_rows), active)
        if self.training and torch.is_grad_enabled():
            self._step_vectors = (unique.index_select(0, people_rows), filtered)
        # Rows of [base; filtered] to read: a person's filtered row, anyone else's base row.
        source = torch.arange(unique.numel(), device=ids.device)
        source[people_rows] = unique.numel() + torch.arange(people_rows.numel(), device=ids.device)
        return torch.cat([base, filtered]).index_select(0, source.index_select(0, inverse))

    def score_triples(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor, for_heads: bool = False) -> torch.Tensor:
        head, tail = self.filtered_vectors(torch.cat([h, t])).split(h.shape[0])
        score = self.interaction.score_for_heads if for_heads else self.interaction.score
        return score(head, self.relation(r), tail)

    def _cached_vectors(self, ids: torch.Tensor) -> torch.Tensor | None:
        """C(u, S) of ``ids`` from this step's ``score_triples``, if it filtered all of them."""
        if self._step_vectors is None:
            return None
        unique, vectors = self._step_vectors
        pos = torch.searchsorted(unique, ids).clamp_max(unique.numel() - 1)
        if not bool((unique[pos] == ids).all()):
            return None
        return vectors[pos]

    # ------------------------------------------------------------------ adversaries
    def _labelled(self, batch: torch.Tensor,
                  active: list[int]) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """The people among the batch's heads and tails with a value of some active attribute (distinct,
        with their number of occurrences as weights), and per attribute their labels (-1: unknown)."""
        ids, counts = torch.unique(torch.cat([batch[:, 0], batch[:, 2]]), return_counts=True)
        labels, labelled = self._attribute_labels(ids, active)
        return ids[labelled], counts[labelled].to(torch.float32), [lab[labelled] for lab in labels]

    def _attribute_labels(self, ids: torch.Tensor, active: list[int]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Per active attribute the labels of entities ``ids`` (-1: unknown), and which have any."""
        labels = [getattr(self, f"labels_{k}").index_select(0, ids) for k in active]
        return labels, torch.stack([lab >= 0 for lab in labels]).any(0)

    def _discriminate(self, filtered: torch.Tensor, weights: torch.Tensor, labels: list[torch.Tensor],
                      active: list[int], input_grad: bool) -> tuple[list[tuple[int, torch.Tensor, torch.Tensor]],
                                                                   torch.Tensor | None]:
        """Each active attribute's discriminator on its labelled people among ``filtered``, forward and
        backward by hand (``kgcore.models.mlp``): adds dL_{D_k}/d(D_k's parameters) to their ``.grad`` and
        returns [(attribute, L_{D_k}, weighted accuracy)] for the attributes with labelled people here and
        sum_k dL_{D_k}/d``filtered`` (None without ``input_grad``, or with no such attribute)."""
        terms = []
        grad = None
        for k, lab in zip(active, labels):
            sel = (lab >= 0).nonzero(as_tuple=True)[0]
            if sel.numel() == 0:
                continue
            everyone = sel.numel() == lab.numel()
            x, y, w = ((filtered, lab, weights) if everyone
                       else (t.index_select(0, sel) for t in (filtered, lab, weights)))
            stack = self.discriminators[k].stack()
            outputs = mlp.forward(stack, x)
            loss, logits_grad = adversary_loss(outputs[-1], y, self.loss_kind, w)
            terms.append((k, loss, ((outputs[-1].argmax(1) == y).to(w.dtype) * w).sum() / w.sum()))
            x_grad = mlp.backward(stack, x, outputs, logits_grad, input_grad)
            if x_grad is None:
                continue
            if grad is None:
                grad = x_grad if everyone else torch.zeros_like(filtered).index_add_(0, sel, x_grad)
            elif everyone:
                grad.add_(x_grad)
            else:
                grad.index_add_(0, sel, x_grad)
        return terms, grad

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.discriminators.parameters())

    def _discriminator_step(self) -> None:
        """One optimizer step of the discriminators on the gradients in their ``.grad`` (None for the
        discriminators of attributes outside S: Adam skips them), which it then clears."""
        optimizer = self._discriminator_optimizer()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def _discriminator_optimizer(self) -> "DenseAdam":
        if self._d_optimizer is None:
            from ..training.optimizers import DenseAdam  # training imports models: imported on first use

            self._d_optimizer = DenseAdam.for_parameters(self.discriminator_parameters(), self.d_lr, amsgrad=True)
        return self._d_optimizer

    def inner_optimizer_state(self) -> dict | None:
        return None if self._d_optimizer is None else self._d_optimizer.state_dict()

    def load_inner_optimizer_state(self, state: dict | None) -> None:
        if state is not None:
            self._discriminator_optimizer().load_state_dict(state)

    def auxiliary_step(self, batch: torch.Tensor) -> dict[str, float]:
        """Sample this batch's S; report the discriminators' latest loss and accuracy (measured on the
        last batch they learned from, before learning from it)."""
        n = len(self.attributes)
        self._step_vectors = None  # a new batch: nothing filtered yet
        self._mask = ([k for k in range(n) if bool(torch.rand(()) < 0.5)] if self.sample_mask
                      else list(range(n)))
        return dict(self._latest_log)

    def _adversarial_gradient(self, filtered: torch.Tensor, weights: torch.Tensor, labels: list[torch.Tensor],
                              active: list[int]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The encoder's adversarial term at ``filtered`` (C(u, S) of labelled people) and its gradient
        there, from one forward pass through the discriminators, which take their step(s) right after.

        Their schedule: the encoder steps against the discriminators as they are, and the
        discriminators step on the detached filtered embeddings from before the encoder's step. Both
        gradients come from the same forward pass through D_k at the same point, so they are computed
        together: one backward pass (``_discriminate``) gives dL_D/d(params of D), on which the
        discriminators step right away, and dL_D/dC(u, S). The term's value is -gamma * sum_k L_{D_k} (``ce``) or
        gamma * (|S| - sum_k L1_k) (``l1``); its gradient is -gamma * dL_D/dC(u, S) either way. None when
        no active attribute has a labelled person here."""
        terms, grad = self._discriminate(filtered, weights, labels, active, input_grad=True)
        if not terms:
            return None
        self._discriminator_step()
        for _ in range(self.d_steps - 1):  # further discriminator steps on the same filtered embeddings
            self._discriminate(filtered, weights, labels, active, input_grad=False)
            self._discriminator_step()
        total = torch.stack([loss for _, loss, _ in terms]).sum()
        for k, loss, accuracy in terms:
            name = self.attributes[k].name
            self._latest_log[f"disc_loss_{name}"] = float(loss)
            self._latest_log[f"disc_acc_{name}"] = float(accuracy)
        value = (len(terms) - total) if self.loss_kind == "l1" else -total
        return self.gamma * value, -self.gamma * grad

    def extra_loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """The encoder's adversarial term (``_adversarial_gradient``, which also steps the
        discriminators); its gradient reaches the filters and embeddings in the training loop's backward
        pass through a surrogate with that gradient."""
        active = self.active_attributes()
        if not self.training or not active or self.gamma == 0:
            return {}
        ids, weights, labels = self._labelled(batch, active)
        if ids.numel() == 0:
            return {}
        cached = self._cached_vectors(ids)
        self._step_vectors = None
        filtered = cached if cached is not None else self.filtered_vectors(ids)
        adversary = self._adversarial_gradient(filtered, weights, labels, active)
        if adversary is None:
            return {}
        value, grad = adversary
        surrogate = (filtered * grad).sum()
        return {"adversary": surrogate - surrogate.detach() + value}

    # ------------------------------------------------------------------ fused training step
    def supports_fused_step(self) -> bool:
        return True

    def fused_step(self, pos: torch.Tensor, neg: torch.Tensor, margin: float) -> tuple[float, dict[str, torch.Tensor]]:
        """The whole step of ``score_triples`` + margin loss + ``extra_loss`` without autograd
        (``kgcore.training.fused``, L1 on a CPU): the batch's distinct entities are looked up once, its distinct
        people filtered once (``kgcore.models.mlp``), the ranking loss and its gradient with respect to
        those vectors come from the fused kernel run on them as if they were the entity table, the
        discriminators add their gradient on the labelled people's filtered vectors, and one backward
        pass through the filters turns the people's gradient into the filters' and the base embeddings'.
        Same values and gradients as the general path (tests compare them); a Bose epoch through autograd
        spends more on bookkeeping around the filters' matrix products than on the products themselves."""
        from ..training import fused

        batch = pos.shape[0]
        if self._slot is None:
            self._slot = np.full(self.num_entities, -1, dtype=np.int64)
        ids = fused.lookup_ids(pos, neg)
        unique, inverse = fused.distinct(ids, self._slot)
        vectors = self.entity.weight.detach().index_select(0, unique)
        active = self.active_attributes()
        people_rows = self.is_person[unique].nonzero(as_tuple=True)[0] if active else unique[:0]
        people = filtered = None
        if people_rows.numel():
            people = vectors.index_select(0, people_rows)
            traces = [mlp.forward(self.filters[k].stack(), people) for k in active]
            filtered = traces[0][-1] if len(traces) == 1 else sum(t[-1] for t in traces)
            if len(traces) > 1 and self.composition == "mean":
                filtered = filtered / len(traces)
            vectors.index_copy_(0, people_rows, filtered)
        local = inverse.view(-1, 2)
        local_pos = torch.stack([local[:batch, 0], pos[:, 1], local[:batch, 1]], 1)
        local_neg = torch.stack([local[batch:, 0], neg[:, :, 1].reshape(-1), local[batch:, 1]], 1).view(neg.shape)
        value, ent_grads, rel_grads = fused.margin_l1_grads(local_pos, local_neg, vectors.numpy(),
                                                            self.relation.weight.detach().numpy(), margin)
        self.relation.pending.append((pos[:, 1], torch.from_numpy(rel_grads)))
        extra: dict[str, torch.Tensor] = {}
        if filtered is not None:
            # The people's rows leave the per-lookup gradient: theirs goes through the filters first.
            person_row = torch.full((unique.numel(),), -1, dtype=torch.long)
            person_row[people_rows] = torch.arange(people_rows.numel())
            filtered_grad = fused.move_rows(inverse, person_row, ent_grads, people_rows.numel())
            person_ids = unique.index_select(0, people_rows)
            if self.gamma != 0:
                counts = torch.bincount(inverse[:2 * batch], minlength=unique.numel()).index_select(0, people_rows)
                adversary = self._fused_adversary(filtered, person_ids, counts, active)
                if adversary is not None:
                    rows, adversary_value, adversary_grad = adversary
                    filtered_grad.index_add_(0, rows, adversary_grad)
                    extra["adversary"] = adversary_value
            people_grad = self._compose_backward(people, traces, filtered_grad, active)
            self.entity.pending.append((person_ids, people_grad))
        self.entity.pending.append((ids, torch.from_numpy(ent_grads)))
        return value, extra

    def _compose_backward(self, people: torch.Tensor, traces: list[list[torch.Tensor]], grad: torch.Tensor,
                          active: list[int]) -> torch.Tensor:
        """Back-propagate ``grad`` (d loss / d C(people, S); overwritten) through the filters of S run by
        ``mlp.forward`` (``traces``): the filters' gradients go to their ``.grad``, the people's is returned."""
        if len(active) > 1 and self.composition == "mean":
            grad = grad / len(active)
        total = None
        for i, (k, outputs) in enumerate(zip(active, traces)):
            own = grad if i == len(active) - 1 else grad.clone()  # each backward pass overwrites its gradient
            people_grad = mlp.backward(self.filters[k].stack(), people, outputs, own)
            total = people_grad if total is None else total.add_(people_grad)
        return total

    def _fused_adversary(self, filtered: torch.Tensor, person_ids: torch.Tensor, counts: torch.Tensor,
                         active: list[int]) -> tuple[torch.Tensor, ...] | None:
        """``extra_loss``'s term for ``fused_step``: the people (``person_ids``, the rows of ``filtered``)
        among the positives' heads and tails (``counts`` times each) with a value of some active attribute,
        weighted by their occurrences; returns their rows of ``filtered``, the term's value and its gradient."""
        labels, labelled = self._attribute_labels(person_ids, active)
        keep = ((counts > 0) & labelled).nonzero(as_tuple=True)[0]
        if keep.numel() == 0:
            return None
        adversary = self._adversarial_gradient(filtered.detach().index_select(0, keep),
                                               counts.index_select(0, keep).to(filtered.dtype),
                                               [lab.index_select(0, keep) for lab in labels], active)
        if adversary is None:
            return None
        value, grad = adversary
        return keep, value, grad

    # ------------------------------------------------------------------ bookkeeping
    def trainable_dense_parameters(self) -> list[nn.Parameter]:
        """Filters go to the training loop's dense optimizer; discriminators have their own."""
        return list(self.filters.parameters())

    def train(self, mode: bool = True) -> "BoseHamilton":
        if not mode:
            self._mask = None  # evaluation always uses the full composition
            self._step_vectors = None
        return super().train(mode)

    def extra_state(self) -> dict[str, Any]:
        return {"attributes": [a.to_dict() for a in self.attributes], "gamma": self.gamma,
                "adversary_loss": self.loss_kind, "d_steps": self.d_steps, "d_lr": self.d_lr,
                "sample_mask": self.sample_mask, "filters": self.options.filters, "compose": self.composition,
                "filter_norm": self.filter_norm}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """A run saved before filters ended in batch norm (its state names no ``filter_norm``) gets filters
        without it, so its weights load and score as they did; every later run records its setting."""
        if "filter_norm" not in state and self.filter_norm != "none":
            self.filter_norm = "none"
            self.filters = self._make_filters(self.dim, norm=False).to(self.entity.weight.device)

    def _make_filters(self, dim: int, norm: bool) -> nn.ModuleList:
        return nn.ModuleList([AttributeFilter(dim, norm=norm) for _ in self.attributes])


ENTRY = ModelEntry(CATALOGUE["bose"], options=BoseOptions,
                   build=lambda config, graph, options: BoseHamilton(graph, config, options))
