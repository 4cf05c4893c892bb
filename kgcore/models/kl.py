"""KL-debiased model (Fisher, Mittal, Palfrey & Christodoulopoulos, "Debiasing knowledge graph embeddings",
EMNLP 2020), with attribute vectors (``kgcore.models.attribute_vectors``) where a whitelist is given.

For every person j among the heads and tails of a training batch and every debiased attribute a
(relation r_a, its M = ``kl_top_values`` most common values v_1..v_M; the paper's M = 30), the model's
predicted distribution over the values is the softmax of its own triple scores of the person's embedding
(through the model's interaction, without attribute vectors),

    P_a(v | j) = exp S(j, r_a, v) / sum_u exp S(j, r_a, u)                                          (1)

(for attributes stored value -> person, such as FB15k-237's ethnicity, S(v, r_a, j)). The loss adds

    L = L_ranking + sum_a w_a * (1 / |J_batch|) * sum_j KL( G_a || P_a(. | j) )                     (2)

with the target G_a uniform by default (``kl_target="uniform"``) or the values' marginal over the training
graph's people (``"marginal"``), as the paper (Sec. 4) defines it; ``kl_direction="predicted||target"`` takes
KL(P || G) instead. While minimising the term the relation and value embeddings are frozen: its gradient
reaches the people's embeddings only, and the sensitive triples still train everything through the ranking
loss, so the two losses pull against each other on the sensitive relations alone. Choices where the text
leaves room: people are the batch's heads and tails that are people of the graph (``graph.people``), each
counted once per batch; several attributes add their own weighted terms (``kl_weight`` per attribute).

With TransE L1 on a CPU the term is computed inside the fused ranking kernel (``fused_step``,
``kl_kernel.margin_kl_l1_step``), or by ``kl_kernel.kl_loss_l1`` on the autograd path; any other
interaction goes through autograd on its own scores.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.whitelist import resolve_whitelist
from ..errors import CheckpointError, SpecError
from ..kernels import AVAILABLE as KERNELS_AVAILABLE, chunks, run_parallel
from . import kl_kernel
from .attribute_vectors import AttributeVectors
from .attributes import DebiasedAttribute, debiased_tables, describe, person_rows
from .base import KGEModel, ModelConfig
from .catalogue import CATALOGUE, ModelEntry
from .options import check_choice, option, parse_weights, weight_of

if TYPE_CHECKING:
    from ..data.graph import KnowledgeGraph

KL_TARGETS = ("uniform", "marginal")
KL_DIRECTIONS = ("predicted||target", "target||predicted")
KL_MOVES = ("people", "people+relations")


def _read_whitelist(path: str) -> list[list[str]]:
    from ..data.whitelist import BUILTIN_WHITELISTS, builtin_whitelist, read_whitelist

    return builtin_whitelist(path) if path in BUILTIN_WHITELISTS else read_whitelist(path)


@dataclass
class KLOptions:
    kl_weight: dict = option({"*": 1.0}, "weight of the KL term: one number for every debiased attribute, or per "
                             "attribute, e.g. 1,religion=0.5 or gender=2,religion=0.5", label="KL weight",
                             parse=parse_weights, metavar="W[,ATTR=W]", widget="weights", low=0.0, high=10.0, step=0.1)
    kl_target: str = option("uniform", "target distribution of the KL term", label="KL target", choices=KL_TARGETS)
    kl_direction: str = option("target||predicted", "which way round the divergence is taken: the paper's "
                               "KL(target || predicted), or KL(predicted || target)", label="KL direction",
                               choices=KL_DIRECTIONS)
    kl_moves: str = option("people", "what the KL term's gradient moves: the people's vectors only, as the paper "
                           "(relation and value vectors frozen for it), or also the attribute relations' (the values "
                           "stay frozen), so the relation cannot build up a preference for one value that every "
                           "person must then be pulled back from", label="KL moves", choices=KL_MOVES)
    kl_top_values: int = option(30, "the attribute's most common values the predicted distribution is over (the "
                                "paper's M)", label="Values per attribute (M)", widget="slider", low=2, high=100,
                                step=1)
    whitelist: list = option([], "attribute-vector whitelist: a file of lines ATTRIBUTE<TAB>RELATION<TAB>TAIL<TAB>"
                             "REASON (TAIL or ATTRIBUTE * for all; or RELATION<TAB>TAIL for every attribute), or a "
                             "built-in one: fb15k237, demo", label="Whitelist", parse=_read_whitelist, metavar="FILE",
                             widget="table")

    def __post_init__(self) -> None:
        if isinstance(self.kl_weight, (int, float)):
            self.kl_weight = {"*": float(self.kl_weight)}
        if isinstance(self.kl_weight, str):
            self.kl_weight = parse_weights(self.kl_weight)
        if any(not float(w) >= 0 for w in self.kl_weight.values()):
            raise SpecError(f"KL weights must be non-negative (got {self.kl_weight}).")
        check_choice("kl_target", self.kl_target, KL_TARGETS)
        check_choice("kl_direction", self.kl_direction, KL_DIRECTIONS)
        check_choice("kl_moves", self.kl_moves, KL_MOVES)
        if self.kl_top_values < 2:
            raise SpecError(f"kl_top_values must be at least 2 (got {self.kl_top_values}).")


class _FusedTables(NamedTuple):
    """numpy views of the tables and, per weighted attribute a, what ``kl_kernel.margin_kl_l1_step`` reads."""

    entity: np.ndarray
    relation: np.ndarray
    is_person: np.ndarray  # uint8 per entity
    value_ids: np.ndarray  # [A, Vmax]
    n_values: np.ndarray  # [A]
    log_target: np.ndarray  # [A, Vmax]
    relation_ids: np.ndarray  # [A]
    signs: np.ndarray  # [A]: -1 for attributes stored value -> person
    weights: np.ndarray  # [A]
    names: list[str]  # the terms' names, kl_<attribute>


def kl_divergence(scores: torch.Tensor, log_target: torch.Tensor, predicted_first: bool = True) -> torch.Tensor:
    """Per row, KL(softmax(scores) || target), or KL(target || softmax(scores)): [P]."""
    log_p = F.log_softmax(scores, dim=1)
    if predicted_first:
        return (log_p.exp() * (log_p - log_target)).sum(1)
    return (log_target.exp() * (log_target - log_p)).sum(1)


class KLDebiased(AttributeVectors, KGEModel):
    """Any interaction + the KL debiasing term (eq. 2) + whitelisted attribute vectors."""

    name = "kl"

    def __init__(self, graph: "KnowledgeGraph", config: ModelConfig, options: KLOptions) -> None:
        super().__init__(graph.num_entities, graph.num_relations, config)
        self.options = options
        tables = debiased_tables(list(config.debias), graph, "kl")
        self.direction = options.kl_direction
        unknown = sorted(set(options.kl_weight) - set(config.debias) - {"*"})
        if unknown:
            raise SpecError(f"KL weights are given for attributes that are not debiased: {', '.join(unknown)} "
                            f"(debiased: {', '.join(config.debias)}).")
        self.attributes: list[DebiasedAttribute] = [describe(t) for t in tables]
        self.weights = [weight_of(options.kl_weight, a.name) for a in self.attributes]
        self.register_buffer("person_row", person_rows(graph))
        self.register_buffer("is_person", self.person_row >= 0)
        for k, attribute in enumerate(self.attributes):
            top = sorted(range(attribute.num_values), key=lambda v: -attribute.counts[v])[:options.kl_top_values]
            counts = torch.tensor([attribute.counts[v] for v in top], dtype=torch.float32)
            target = (counts / counts.sum() if options.kl_target == "marginal"
                      else torch.full_like(counts, 1.0 / len(top)))
            self.register_buffer(f"values_{k}", torch.tensor([attribute.value_ids[v] for v in top], dtype=torch.long))
            self.register_buffer(f"log_target_{k}", target.log())
        self.register_buffer("all_values", torch.cat([getattr(self, f"values_{k}") for k in range(len(tables))]))
        self.register_buffer("attribute_relations", torch.tensor([a.relation_id for a in self.attributes]))
        self._fused_constants: _FusedTables | bool | None = None  # ``_fused_kl_constants`` (False: not applicable)
        self.init_attribute_vectors(graph, self.attributes, tables, resolve_whitelist(list(options.whitelist), graph),
                                    config.dim)

    # ------------------------------------------------------------------ eq. (1) and (2)
    def attribute_scores(self, people: torch.Tensor, k: int, frozen: bool = False) -> torch.Tensor:
        """S(j, r_a, v) of each person's own vector (no attribute vectors) for people j [P] and the top values v
        of attribute k: [P, V] (eq. 1's logits). ``frozen``: what the KL term may not move carries no gradient
        (the values' vectors, and the relation's unless ``kl_moves`` includes the relations)."""
        attribute = self.attributes[k]
        person = self.entity_vectors(people)
        values = self.entity_vectors(getattr(self, f"values_{k}"))
        relation = self.relation_vector(attribute.relation_id, people.device)
        if frozen:
            values = values.detach()
            relation = relation if self.options.kl_moves == "people+relations" else relation.detach()
        if attribute.reversed:  # S(v, r_a, j): the values are candidate heads of (r_a, person)
            return self.interaction.score_heads(relation, person, values)
        return self.interaction.score_tails(person, relation, values)

    def attribute_distribution(self, people: torch.Tensor, k: int) -> torch.Tensor:
        """P_a(v | j) of eq. (1): [P, V]."""
        return torch.softmax(self.attribute_scores(people, k), dim=1)

    def kl_to_target(self, people: torch.Tensor, k: int) -> torch.Tensor:
        """Per-person KL divergence of eq. (2) for attribute k: [P]; its gradient reaches the people only (and the
        attribute's relation with ``kl_moves`` "people+relations")."""
        return kl_divergence(self.attribute_scores(people, k, frozen=True), getattr(self, f"log_target_{k}"),
                             self.direction == "predicted||target")

    def batch_people(self, batch: torch.Tensor) -> torch.Tensor:
        """Distinct people among the batch's heads and tails (sorted entity ids)."""
        seen = torch.zeros(self.num_entities, dtype=torch.bool, device=batch.device)
        seen[batch[:, 0]] = True
        seen[batch[:, 2]] = True
        return (seen & self.is_person).nonzero().squeeze(1)

    def _l1_kernel_applies(self, people: torch.Tensor) -> bool:
        return (self.interaction.fused_margin_step and KERNELS_AVAILABLE and people.device.type == "cpu"
                and self.entity.weight.dtype == self.relation.weight.dtype == torch.float32)

    def extra_loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eq. (2)'s KL terms for the batch's people, whose gradient reaches only the people's embeddings (the
        values' and relations' vectors are frozen for it, as in the paper; the ranking loss trains them; with
        ``kl_moves`` "people+relations" the attribute relations' too). With
        TransE L1 on a CPU, one lookup each of the people, every attribute's values and their relations feeds
        ``kl_kernel.kl_loss_l1``; otherwise the interaction's own scores (``kl_to_target``) go through autograd."""
        terms: dict[str, torch.Tensor] = self.twin_loss(batch) if self.training else {}
        people = self.batch_people(batch)
        if people.numel() == 0:
            return terms
        # One lookup each of the people, every attribute's values and their relations for all attributes.
        person_vectors = self.entity_vectors(people)
        with torch.no_grad():  # frozen for this term, as in the paper
            value_vectors = self.entity_vectors(self.all_values)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.options.kl_moves == "people+relations"):
            relations = self.relation(self.attribute_relations)
        l1_kernel = self._l1_kernel_applies(people)
        start = 0
        for k, (attribute, weight) in enumerate(zip(self.attributes, self.weights)):
            stop = start + getattr(self, f"values_{k}").numel()
            values, relation, log_target = value_vectors[start:stop], relations[k:k + 1], getattr(self, f"log_target_{k}")
            start = stop
            if weight <= 0:
                continue
            if l1_kernel:
                term = kl_kernel.kl_loss_l1(person_vectors, values, relation[0], -1.0 if attribute.reversed else 1.0,
                                            log_target, weight, self.direction == "predicted||target")
            else:
                scores = (self.interaction.score_heads(relation, person_vectors, values) if attribute.reversed
                          else self.interaction.score_tails(person_vectors, relation, values))
                term = weight * kl_divergence(scores, log_target, self.direction == "predicted||target").mean()
            terms[f"kl_{attribute.name}"] = term
        return terms

    def supports_fused_step(self) -> bool:
        """The pure KL model (no attribute vectors: nothing depends on the tail, no dense parameters) whose KL
        term moves only the people (the kernel leaves the relations to the ranking loss)."""
        return not self.whitelist and self.options.kl_moves == "people"

    def _fused_kl_constants(self) -> "_FusedTables | None":
        """The kernel's view of the tables and of every attribute with a positive weight (None where the
        fused KL path does not apply: attribute vectors, an interaction without the fused step, no numba,
        not a CPU float32 model, or no weighted attribute), made on first use and dropped when the model moves (``_apply``)."""
        if self._fused_constants is None:
            entity, relation = self.entity.weight, self.relation.weight
            chosen = [k for k, w in enumerate(self.weights) if w > 0]
            eligible = (self.supports_fused_step() and self.interaction.fused_margin_step and KERNELS_AVAILABLE
                        and chosen
                        and entity.device.type == "cpu" and entity.dtype == relation.dtype == torch.float32)
            self._fused_constants = False
            if eligible:
                counts = [getattr(self, f"values_{k}").numel() for k in chosen]
                # Padded to the largest count; a padding slot names the attribute's first value, whose
                # gradient row there the kernel leaves at zero.
                value_ids = np.zeros((len(chosen), max(counts)), dtype=np.int64)
                log_target = np.zeros((len(chosen), max(counts)), dtype=np.float64)
                for a, k in enumerate(chosen):
                    ids = getattr(self, f"values_{k}").numpy()
                    value_ids[a] = ids[0]
                    value_ids[a, :counts[a]] = ids
                    log_target[a, :counts[a]] = getattr(self, f"log_target_{k}").double().numpy()
                self._fused_constants = _FusedTables(
                    entity=entity.detach().numpy(), relation=relation.detach().numpy(),
                    is_person=self.is_person.numpy().view(np.uint8), value_ids=value_ids,
                    n_values=np.array(counts, dtype=np.int64), log_target=log_target,
                    relation_ids=np.array([self.attributes[k].relation_id for k in chosen], dtype=np.int64),
                    signs=np.array([-1.0 if self.attributes[k].reversed else 1.0 for k in chosen]),
                    weights=np.array([self.weights[k] for k in chosen]),
                    names=[f"kl_{self.attributes[k].name}" for k in chosen])
        return self._fused_constants or None

    def fused_step(self, pos: torch.Tensor, neg: torch.Tensor, margin: float) -> tuple[float, dict[str, torch.Tensor]]:
        """The ranking step and eq. (2)'s KL terms in one kernel (``kl_kernel.margin_kl_l1_step``), with no
        autograd: each person's divergence gradient joins the ranking gradient of its row, the values' and
        the attribute relations' go to the tables' ``pending`` lists as one more lookup each. Where the
        kernel does not apply, the ranking step alone is fused and the KL terms go through ``extra_loss``."""
        from ..training import fused

        tables = self._fused_kl_constants()
        if tables is None:
            return super().fused_step(pos, neg, margin)
        batch, k_neg = neg.shape[0], neg.shape[1]
        (n_attributes, v_max), dim = tables.value_ids.shape, tables.entity.shape[1]
        ent_grads = np.empty((2 * batch * (1 + k_neg), dim), np.float32)
        rel_grads = np.empty((batch, dim), np.float32)
        grad_values = np.empty((n_attributes, v_max, dim), np.float32)
        grad_relation = np.empty((n_attributes, dim), np.float32)
        kl = np.empty(n_attributes)
        loss, people = run_parallel(kl_kernel.margin_kl_l1_step, pos.contiguous().numpy(), neg.contiguous().numpy(),
                                    tables.entity, tables.relation, float(margin), ent_grads, rel_grads, chunks(batch),
                                    tables.is_person, tables.value_ids, tables.n_values, tables.log_target,
                                    tables.relation_ids, tables.signs, tables.weights,
                                    self.direction == "predicted||target", grad_values, grad_relation, kl)
        self.entity.pending.append((fused.lookup_ids(pos, neg), torch.from_numpy(ent_grads)))
        self.relation.pending.append((pos[:, 1], torch.from_numpy(rel_grads)))
        if people == 0:
            return float(loss), {}
        # The kernel also gives the term's gradient for the values and attribute relations; the paper freezes
        # them for this term (they learn from the ranking loss alone), so it is left out.
        return float(loss), {name: torch.tensor(value) for name, value in zip(tables.names, kl.tolist())}

    def _apply(self, fn, *args, **kwargs):
        self._fused_constants = None  # views of buffers that a device or dtype move replaces
        return super()._apply(fn, *args, **kwargs)

    # ------------------------------------------------------------------ bookkeeping
    def extra_state(self) -> dict[str, Any]:
        """What a reloaded run is checked against (membership and ids are also buffers in model.pt)."""
        return {
            "attributes": [a.to_dict() for a in self.attributes],
            "kl_weights": {a.name: w for a, w in zip(self.attributes, self.weights)},
            "kl_target": self.options.kl_target,
            "kl_direction": self.direction,
            "kl_moves": self.options.kl_moves,
            "whitelist": self.whitelist_names,
            "whitelist_ids": [list(pair) for pair in self.whitelist],
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Refuse a run whose whitelist or attribute values resolve differently on this graph."""
        saved_ids = [tuple(entry) if len(entry) == 3 else (*entry, "*") for entry in state.get("whitelist_ids", [])]
        if state and saved_ids != list(self.whitelist):
            raise CheckpointError(f"The run's whitelist resolved to {state.get('whitelist')} when it was trained, "
                                  f"but to {self.whitelist_names} on this graph; load it with the data it was "
                                  "trained on.")
        for saved, own in zip(state.get("attributes", []), self.attributes):
            if saved.get("value_ids") != list(own.value_ids):
                raise CheckpointError(f"The values of {own.name!r} differ from those the run was trained with; "
                                      "load it with the data it was trained on.")

    def trainable_dense_parameters(self) -> list[nn.Parameter]:
        return [] if self.attribute_vectors is None else [self.attribute_vectors]


ENTRY = ModelEntry(CATALOGUE["kl"], options=KLOptions,
                   build=lambda config, graph, options: KLDebiased(graph, config, options))
