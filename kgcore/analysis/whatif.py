""""What should I be when I grow up?": flip one recorded attribute of a person and ask each model which
professions it finds most plausible for both versions.

A person is described by facts, triples in which ``PERSON`` ("?") stands for them, e.g.
``("?", "gender", "gender:female")`` or ``("org:acme", "employs", "?")``. Both versions of the person
are *placed by the same procedure* from their facts, so the only difference between them is the flipped
fact:

    e* = argmax_e  (1 / |F|) * sum_{(h, r, t) in F}  S(h, r, t)   with the person's slot filled by e,

where S is the model's own score (its interaction; higher = more plausible), optimised with Adam
(learning rate decayed to zero on a cosine) from the mean of the vectors the interaction rates highest for
each fact (``Interaction.head_query`` / ``tail_query``: t - r for TransE), and kept on the unit sphere
when the model constrains entities that way. The model's weights are frozen: this is how the trained
model would place a newcomer with these facts (without negative samples, which only matter for the other
entities). The profession ranking is then the softmax over the target
relation's values of S(e*, r_profession, p).

For a person already in the graph the facts are their training triples except the target relation
(what we ask the model to guess), so the "as recorded" version is the model's guess from everything else
it knows about them. Per-person terms of a model keyed by entity id are not applied to either version
(both are hypothetical people); a model's ``represent`` (Bose's filters) is.

The answers describe what a trained model associates with the recorded values in this graph, not what
anyone should be.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..models.embedding import unit_norm
from ..errors import KGError, SpecError
from ..data.graph import KnowledgeGraph
from ..models import KGEModel
from ..data.triples import Triple

PERSON = "?"
DEFAULT_TOP = 10
FIT_STEPS = 100
FIT_LR = 0.05


@dataclass
class WhatIf:
    """One model's answer for a person and their flipped version."""

    attribute: str
    original_value: str | None  # label of the value in the original facts (None: not recorded)
    flipped_value: str
    facts: list[Triple]
    flipped_facts: list[Triple]
    original: pd.DataFrame  # rank (index), entity, label, score, probability
    flipped: pd.DataFrame
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def changed(self) -> int:
        """How many professions of the flipped top list were not in the original one."""
        return int(len(set(self.flipped["entity"]) - set(self.original["entity"])))


# ---------------------------------------------------------------------------------------------- facts
def person_facts(graph: KnowledgeGraph, person: int | str, exclude_target: bool = True) -> list[Triple]:
    """The training triples of ``person`` (entity id, name or unique label) with ``PERSON`` in their slot,
    leaving out the target relation (profession) unless ``exclude_target`` is False."""
    from .people import resolve_person  # one way of naming people across kgcore

    pid = resolve_person(graph, person)
    train = graph.splits["train"]
    skip = graph.relation_to_id.get(graph.spec.target) if exclude_target and graph.spec.target else None
    facts: list[Triple] = []
    for h, r, t in train[(train[:, 0] == pid) | (train[:, 2] == pid)].tolist():
        if r == skip:
            continue
        head = PERSON if h == pid else graph.entities[h]
        tail = PERSON if t == pid else graph.entities[t]
        if head == PERSON and tail == PERSON:
            continue  # a self-loop says nothing about where the person sits
        facts.append((head, graph.relations[r], tail))
    return sorted(set(facts))


def attribute_values(graph: KnowledgeGraph, attribute: str) -> list[tuple[str, str]]:
    """(entity, label) of every value of ``attribute`` in the training graph, most common first."""
    table = graph.attribute_table(attribute)
    return [(graph.entities[int(v)], label) for v, label in zip(table.value_ids, table.value_labels)]


def _value_entity(graph: KnowledgeGraph, attribute: str, value: str) -> str:
    values = attribute_values(graph, attribute)
    for entity, label in values:
        if value in (entity, label):
            return entity
    lowered = [e for e, label in values if label.lower() == value.lower()]
    if len(lowered) == 1:
        return lowered[0]
    shown = ", ".join(label for _, label in values[:10])
    raise SpecError(f"{attribute!r} has no value {value!r} in {graph.name}; values: {shown}.")


def recorded_values(graph: KnowledgeGraph, facts: list[Triple], attribute: str) -> list[str]:
    """Entities of ``attribute`` values stated by ``facts``."""
    spec = graph.spec.attribute(attribute)
    if spec.reversed:
        return [h for h, r, t in facts if r == spec.relation and t == PERSON]
    return [t for h, r, t in facts if r == spec.relation and h == PERSON]


def flip_attribute(graph: KnowledgeGraph, facts: list[Triple], attribute: str, value: str) -> list[Triple]:
    """``facts`` with every statement of ``attribute`` replaced by one stating ``value`` (label or entity)."""
    spec = graph.spec.attribute(attribute)
    entity = _value_entity(graph, attribute, value)
    if spec.reversed:
        kept = [f for f in facts if not (f[1] == spec.relation and f[2] == PERSON)]
        return sorted(kept + [(entity, spec.relation, PERSON)])
    kept = [f for f in facts if not (f[1] == spec.relation and f[0] == PERSON)]
    return sorted(kept + [(PERSON, spec.relation, entity)])


def person_relations(graph: KnowledgeGraph, top_values: int = 25) -> dict[str, list[tuple[str, int]]]:
    """Relations people hold as heads in the training graph (not the target), each with its most common
    tails and their counts: the choices of a form that builds a person."""
    train = graph.splits["train"].numpy()
    people = set(graph.people.tolist())
    target = graph.relation_to_id.get(graph.spec.target) if graph.spec.target else None
    tails: dict[int, Counter] = {}
    for h, r, t in train:
        if r != target and int(h) in people and int(t) not in people:
            tails.setdefault(int(r), Counter())[int(t)] += 1
    return {graph.relations[r]: [(graph.entities[t], n) for t, n in counter.most_common(top_values)]
            for r, counter in sorted(tails.items(), key=lambda item: -sum(item[1].values()))}


def check_facts(graph: KnowledgeGraph, facts: list[Triple]) -> None:
    """Every fact names the person once and entities/relations the graph knows."""
    if not facts:
        raise KGError("The person has no facts to place them by; choose at least one (e.g. their gender).")
    for h, r, t in facts:
        if (h == PERSON) == (t == PERSON):
            raise KGError(f"Fact ({h}, {r}, {t}) must have the person ({PERSON!r}) as exactly one of head or tail.")
        if r not in graph.relation_to_id:
            raise SpecError(f"Unknown relation {r!r} in fact ({h}, {r}, {t}).")
        other = t if h == PERSON else h
        if other not in graph.entity_to_id:
            raise KGError(f"Unknown entity {other!r} in fact ({h}, {r}, {t}).")


# ---------------------------------------------------------------------------------------------- fitting
def fact_scores(model: KGEModel, graph: KnowledgeGraph, emb: torch.Tensor, facts: list[Triple]) -> torch.Tensor:
    """S of every fact with the person's slot filled by the base embedding ``emb`` [D], one model call per
    (relation, direction): [F] in the order of ``_fact_groups``."""
    scores = []
    for (rid, as_head), others in _fact_groups(graph, facts, emb.device):
        if as_head:
            scores.append(model.score_head_embeddings(emb[None], rid, others)[0])
        else:
            scores.append(model.score_tail_embeddings(emb[None], rid, others)[0])
    return torch.cat(scores)


class _FactScorer:
    """``fact_scores`` for many embeddings of one person under a frozen model: the relations' vectors and the
    other entities' represented vectors are looked up once, and each call represents the person once for all
    their facts (a debiasing filter, for instance, runs once per call instead of once per relation)."""

    def __init__(self, model: KGEModel, graph: KnowledgeGraph, facts: list[Triple], device: torch.device) -> None:
        self.model = model
        with torch.no_grad():
            self.groups = [(as_head, model.relation_vector(rid, device), model.entity_vectors(others))
                           for (rid, as_head), others in _fact_groups(graph, facts, device)]

    def __call__(self, emb: torch.Tensor) -> torch.Tensor:
        person = self.model.represent(emb[None], None)
        interaction = self.model.interaction
        return torch.cat([interaction.score_tails(person, relation, others)[0] if as_head
                          else interaction.score_heads(relation, person, others)[0]
                          for as_head, relation, others in self.groups])


def _fact_groups(graph: KnowledgeGraph, facts: list[Triple],
                 device: torch.device) -> list[tuple[tuple[int, bool], torch.Tensor]]:
    groups: dict[tuple[int, bool], list[int]] = {}
    for h, r, t in facts:
        as_head = h == PERSON
        groups.setdefault((graph.relation_to_id[r], as_head), []).append(graph.entity_to_id[t if as_head else h])
    return [(key, torch.tensor(ids, device=device)) for key, ids in sorted(groups.items())]


class _Adam:
    """Adam on one tensor with a cosine decay of the learning rate to zero over ``total`` steps, computed as
    ``torch.optim.Adam`` and ``torch.optim.lr_scheduler.CosineAnnealingLR`` compute them (same operations,
    same results). Written out because constructing a ``torch.optim`` optimizer imports torch's compiler
    (``torch._dynamo``), which takes seconds, on the first question a person asks. The decay: an L1 score is
    not smooth, and a constant step would keep circling the optimum."""

    def __init__(self, param: torch.Tensor, lr: float, total: int, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.param, self.lr, self.base_lr, self.total = param, lr, lr, total
        self.beta1, self.beta2, self.eps = betas[0], betas[1], eps
        self.exp_avg = torch.zeros_like(param, memory_format=torch.preserve_format)
        self.exp_avg_sq = torch.zeros_like(param, memory_format=torch.preserve_format)
        self.count = 0

    def step(self, grad: torch.Tensor) -> None:
        self.count += 1
        self.exp_avg.lerp_(grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias_correction1 = 1 - self.beta1 ** float(self.count)
        bias_correction2 = 1 - self.beta2 ** float(self.count)
        step_size = self.lr / bias_correction1
        denom = (self.exp_avg_sq.sqrt() / bias_correction2 ** 0.5).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, denom, value=-step_size)
        # CosineAnnealingLR's recursive form (eta_min 0)
        t, T = self.count, self.total
        if (t - 1 - T) % (2 * T) == 0:
            self.lr = self.lr + self.base_lr * (1 - math.cos(math.pi / T)) / 2
        else:
            self.lr = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * self.lr


def fit_person(model: KGEModel, graph: KnowledgeGraph, facts: list[Triple], steps: int = FIT_STEPS,
               lr: float = FIT_LR) -> torch.Tensor:
    """The base embedding e* that best fits ``facts`` under the frozen ``model`` (see module docstring)."""
    check_facts(graph, facts)
    device = model.entity.weight.device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            guesses = []
            for h, r, t in facts:
                rel = model.relation_vector(graph.relation_to_id[r], device)
                other = model.entity.weight[graph.entity_to_id[t if h == PERSON else h]][None]
                guesses.append(model.interaction.head_query(rel, other) if h == PERSON
                               else model.interaction.tail_query(other, rel))
            start = torch.cat(guesses).mean(0)
        normalise = bool(getattr(model.config, "entity_norm", False))
        emb = (unit_norm(start[None])[0] if normalise else start).clone().requires_grad_(True)
        adam = _Adam(emb, lr, max(steps, 1))
        scores = _FactScorer(model, graph, facts, device)
        for _ in range(steps):
            with torch.enable_grad():
                loss = -scores(emb).mean()
                # Only the person's vector gets a gradient: the model's weights stay untouched (and shared).
                (grad,) = torch.autograd.grad(loss, [emb])
            with torch.no_grad():
                adam.step(grad)
                if normalise:
                    emb.copy_(unit_norm(emb[None])[0])
        return emb.detach()
    finally:
        model.train(was_training)


def rank_professions(model: KGEModel, graph: KnowledgeGraph, embedding: torch.Tensor,
                     top: int = DEFAULT_TOP) -> pd.DataFrame:
    """The ``top`` professions for a base ``embedding`` [D]: rank (index from 1), entity, label, score and
    softmax probability over all professions."""
    target = graph.target_table
    with torch.no_grad():
        scores = model.score_head_embeddings(embedding[None].to(model.entity.weight.device), target.relation_id,
                                             target.value_ids.to(model.entity.weight.device))[0].cpu()
    probabilities = torch.softmax(scores, 0)
    order = torch.argsort(scores, descending=True, stable=True)[:top].tolist()
    frame = pd.DataFrame({
        "entity": [graph.entities[int(target.value_ids[j])] for j in order],
        "label": [target.value_labels[j] for j in order],
        "score": [float(scores[j]) for j in order],
        "probability": [float(probabilities[j]) for j in order],
    })
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="rank")
    return frame


def compare_rankings(original: pd.DataFrame, flipped: pd.DataFrame) -> pd.DataFrame:
    """Per profession in either top list: rank before and after (NaN: outside the list) and what happened
    (``new``, ``dropped``, ``up``, ``down``, ``same``)."""
    before = {e: rank for rank, e in zip(original.index, original["entity"])}
    after = {e: rank for rank, e in zip(flipped.index, flipped["entity"])}
    labels = dict(zip(original["entity"], original["label"])) | dict(zip(flipped["entity"], flipped["label"]))
    rows = []
    for entity in list(after) + [e for e in before if e not in after]:
        b, a = before.get(entity), after.get(entity)
        status = ("new" if b is None else "dropped" if a is None else
                  "up" if a < b else "down" if a > b else "same")
        rows.append({"entity": entity, "label": labels[entity], "rank_before": b if b is not None else np.nan,
                     "rank_after": a if a is not None else np.nan, "change": status})
    return pd.DataFrame(rows)


def what_if(model: KGEModel, graph: KnowledgeGraph, facts: list[Triple], attribute: str, value: str,
            top: int = DEFAULT_TOP, steps: int = FIT_STEPS, lr: float = FIT_LR) -> WhatIf:
    """Top professions of the person described by ``facts`` and of the same person with ``attribute``
    set to ``value`` (label or entity), both placed by ``fit_person``."""
    if not graph.spec.target:
        raise SpecError(f"{graph.name}: the spec names no target relation, so there are no professions to rank.")
    flipped_facts = flip_attribute(graph, facts, attribute, value)
    recorded = recorded_values(graph, facts, attribute)
    torch.manual_seed(0)
    original = rank_professions(model, graph, fit_person(model, graph, facts, steps, lr), top)
    flipped = rank_professions(model, graph, fit_person(model, graph, flipped_facts, steps, lr), top)
    new_value = _value_entity(graph, attribute, value)
    return WhatIf(attribute=attribute, original_value=graph.label(recorded[0]) if recorded else None,
                  flipped_value=graph.label(new_value), facts=list(facts), flipped_facts=flipped_facts,
                  original=original, flipped=flipped, changes=compare_rankings(original, flipped))


def ask_models(models: dict[str, KGEModel], graph: KnowledgeGraph, facts: list[Triple], attribute: str,
               value: str, top: int = DEFAULT_TOP, **fit: Any) -> dict[str, WhatIf]:
    """``what_if`` for each named model (same facts, same flip)."""
    return {name: what_if(model, graph, facts, attribute, value, top, **fit) for name, model in models.items()}


__all__ = ["PERSON", "WhatIf", "person_facts", "attribute_values", "recorded_values", "flip_attribute",
           "person_relations", "check_facts", "fit_person", "rank_professions", "compare_rankings", "what_if",
           "ask_models"]
