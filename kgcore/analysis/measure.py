"""Per-profession bias scores by embedding perturbation (Fisher, Palfrey, Christodoulopoulos & Mittal,
"Measuring social bias in knowledge graph embeddings", AKBC 2020 workshop, Sec. 3.2).

The measure asks the model, not the data: *if the model believed this person were more male (more
female, more of religion X), how would its belief about their profession move?* For every person j with a
recorded value of the attribute and every value v:

(1) Perturbation. Starting from j's *base* embedding e_j, take ``steps`` gradient-ascent steps of size
    alpha (``step_size``) on the attribute score

        e_j <- e_j + alpha * d/de_j [ S(j, r_a, v) - mean_{u != v} S(j, r_a, u) ]

    where S is the model's triple score (its interaction; higher = more plausible) and r_a the attribute
    relation. For a binary attribute this is S(j, gender, male) - S(j, gender, female); with more values it
    is "one value against the mean of the rest", as the paper says. With ``contrast=False`` only
    S(j, r_a, v) is raised. A single step of alpha = 0.01 is the paper's measure; more steps give
    ``person_trajectory``. For TransE with dot product the gradient is e_v - mean_{u != v} e_u, the same for every
    person, so B_p = alpha * <e_v - mean_{u != v} e_u, e_p> (independent of alpha up to scale).

(2) Response. For every profession p, the change of the model's score,

        delta_jp = S(e_j', r_p, p) - S(e_j, r_p, p)       (the paper's raw score change, the default),

    or of the softmax probability over all professions, delta_jp = P(p | j') - P(p | j)
    (``use_probability=True``), which ignores a shift common to every profession: with some scores one step
    moves a person towards (or away from) all professions alike. Both measures are computed and returned.

(3) Aggregation over people: B_p^v = (1 / |J|) * sum_j delta_jp. B_p^v > 0: moving a person towards v
    makes the model find profession p more plausible for them.

Choices where the paper leaves room: the perturbed embedding is not projected back onto a unit sphere (the
measure asks about the score near the trained embedding, not about a training step); models perturb the
*base* embedding (before ``represent``), so Bose & Hamilton's filters are part of the response; for
attributes stored value -> person (FB15k-237's ethnicity) the score raised is S(v, r_a, j) with the person
as the tail (``KGEModel.score_tail_embeddings``). Gender in these data is recorded with two values; the
scores describe what the model associates with those recorded values, never what any group of people is.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import pandas as pd
import torch

from ..errors import KGError, SpecError
from ..data.graph import AttributeTable, KnowledgeGraph
from ..models import KGEModel
from .people import preview, unique_value_labels, value_index

# The Measuring paper's B_p: one plain step of size 0.01, the raw score change; top-20 tables over
# professions with at least 20 people.
DEFAULT_STEPS = 1
DEFAULT_STEP_SIZE = 0.01
DEFAULT_USE_PROBABILITY = False
DEFAULT_MIN_SUPPORT = 20


@dataclass
class BiasResult:
    """Per-profession bias scores B_p^v for the measured values of one attribute.

    ``frame`` has one row per profession of the training graph: ``entity``, ``label``, ``people`` (people
    with that profession), ``C_<value>`` counts and ``C_unknown`` (from ``graph.target_counts``),
    ``share_<value>`` (fraction of its people with a recorded value who hold that value), and ``B_<value>``
    (the measure chosen by ``use_probability``) for each measured value. ``score_change`` and
    ``probability_change`` hold both measures as [professions, measured values] arrays.
    """

    attribute: str
    values: list[str]  # unique labels of all values of the attribute, most common first
    value_entities: list[str]
    measured: list[str]  # labels of the values B was computed for
    frame: pd.DataFrame
    score_change: np.ndarray
    probability_change: np.ndarray
    people: int
    steps: int
    step_size: float
    use_probability: bool
    contrast: bool
    seconds: float
    reversed: bool = False

    def column(self, value: str) -> str:
        """Name of the B column of a value (label or entity id)."""
        return f"B_{self.resolve(value)}"

    def resolve(self, value: str) -> str:
        """The unique label of ``value`` (a label, any-case label or entity id), which must be measured."""
        label = self.values[value_index(value, self.values, self.value_entities, self.attribute)]
        if label not in self.measured:
            raise SpecError(f"{label!r} was not measured (measured: {preview(self.measured)}); "
                            f"call measure_bias(..., value={label!r}).")
        return label

    @property
    def binary(self) -> bool:
        return len(self.values) == 2


def attribute_scores(model: KGEModel, emb: torch.Tensor, person_ids: torch.Tensor, table: AttributeTable,
                     values: torch.Tensor | None = None) -> torch.Tensor:
    """Scores of (person, r_a, u) for every value u ([P, V]; or only ``values``), differentiable in the base
    embeddings ``emb``; for reversed attributes the score of (u, r_a, person)."""
    values = (table.value_ids if values is None else values).to(emb.device)
    if table.reversed:
        return model.score_tail_embeddings(emb, table.relation_id, values, person_ids)
    return model.score_head_embeddings(emb, table.relation_id, values, heads=person_ids)


def attribute_objective(scores: torch.Tensor, value: int, contrast: bool = True) -> torch.Tensor:
    """Per-person objective of step (1): S(v) - mean_{u != v} S(u), or S(v) alone. ``scores`` is [P, V]."""
    target = scores[:, value]
    if not contrast or scores.shape[1] < 2:
        return target
    rest = (scores.sum(1) - target) / (scores.shape[1] - 1)
    return target - rest


def _score_and_gradient(model: KGEModel, emb: torch.Tensor, person_ids: torch.Tensor, table: AttributeTable,
                        values: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum over ``values`` of S(person, r_a, u) [P], its gradient [P, D]).

    Rows are independent (each person's scores depend only on their own row), so the gradient of the sum
    over people is every person's own gradient: one backward pass for all people."""
    free = emb.detach().requires_grad_(True)
    with torch.enable_grad():
        total = attribute_scores(model, free, person_ids, table, values).sum(1)
        (grad,) = torch.autograd.grad(total.sum(), free)
    # An exact hit of an L2 distance (h + r == v) has no gradient; keep the person where they are.
    return total.detach(), torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)


ScoreAndGradient = tuple[torch.Tensor, torch.Tensor]


def attribute_gradient(model: KGEModel, emb: torch.Tensor, person_ids: torch.Tensor, table: AttributeTable,
                       value: int, contrast: bool = True,
                       all_values: ScoreAndGradient | None = None) -> ScoreAndGradient:
    """(objective [P], its gradient [P, D] with respect to each person's own base embedding).

    With V values, S(v) - mean_{u != v} S(u) = (V S(v) - sum_u S(u)) / (V - 1): the gradient is assembled
    from that of S(v) alone and that of sum_u S(u), which ``all_values`` can pass in precomputed at the
    same ``emb`` (every value's first step starts from the trained embeddings, so measuring V values costs
    one full pass plus V single-value passes)."""
    value_ids = table.value_ids[value:value + 1]
    own, own_grad = _score_and_gradient(model, emb, person_ids, table, value_ids)
    n_values = table.num_values
    if not contrast or n_values < 2:
        return own, own_grad
    total, total_grad = all_values if all_values is not None else _score_and_gradient(model, emb, person_ids,
                                                                                       table, None)
    return ((n_values * own - total) / (n_values - 1),
            (n_values * own_grad - total_grad) / (n_values - 1))


def perturb(model: KGEModel, emb: torch.Tensor, person_ids: torch.Tensor, table: AttributeTable, value: int,
            steps: int, step_size: float, contrast: bool = True, keep_path: bool = False,
            first_all_values: ScoreAndGradient | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Step (1) for every person at once: ``steps`` gradient-ascent steps of size ``step_size``.
    ``first_all_values``: sum_u S(u) and its gradient at ``emb`` (see ``attribute_gradient``)."""
    path = [emb.detach().clone()] if keep_path else []
    current = emb.detach()
    for step in range(steps):
        shared = first_all_values if step == 0 else None
        _, grad = attribute_gradient(model, current, person_ids, table, value, contrast, shared)
        current = current + step_size * grad
        if keep_path:
            path.append(current.clone())
    return current, path


def base_embeddings(model: KGEModel, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.entity.weight.index_select(0, ids).detach().clone()


def profession_scores(model: KGEModel, emb: torch.Tensor, person_ids: torch.Tensor, target: AttributeTable,
                       batch: int = 8192) -> torch.Tensor:
    """Scores of (person, r_p, p) for every profession p: [P, T] (batched to bound memory)."""
    professions = target.value_ids.to(emb.device)
    with torch.no_grad():
        parts = [model.score_head_embeddings(emb[i:i + batch], target.relation_id, professions,
                                             heads=person_ids[i:i + batch])
                 for i in range(0, emb.shape[0], batch)]
    return torch.cat(parts) if parts else torch.empty((0, professions.numel()))


@dataclass
class Measurement:
    table: AttributeTable
    target: AttributeTable
    labels: list[str]
    entities: list[str]
    person_ids: torch.Tensor
    base: torch.Tensor
    before_scores: torch.Tensor
    before_probs: torch.Tensor
    # sum_u S(person, r_a, u) and its gradient at the trained embeddings, shared by every value's first step
    all_values: tuple[torch.Tensor, torch.Tensor] | None = None

    def shared_first_step(self, model: KGEModel, contrast: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
        if not contrast or self.table.num_values < 2:
            return None
        if self.all_values is None:
            self.all_values = _score_and_gradient(model, self.base, self.person_ids, self.table, None)
        return self.all_values


def prepare_measurement(model: KGEModel, graph: KnowledgeGraph, attribute: str) -> Measurement:
    table = graph.attribute_table(attribute)
    target = graph.target_table
    if table.num_values == 0:
        raise SpecError(f"No person in the training graph has a value of {attribute!r}; nothing to measure.")
    if target.num_values == 0:
        raise SpecError(f"No person in the training graph has a {graph.spec.target_name}; nothing to measure.")
    if model.num_entities != graph.num_entities:
        raise KGError(f"The model has {model.num_entities} entities but the graph {graph.num_entities}; "
                      "measure a model with the graph it was trained on.")
    device = model.entity.weight.device
    has_value = table.membership.any(1)
    person_ids = table.person_ids[has_value].to(device)
    base = base_embeddings(model, person_ids)
    before = profession_scores(model, base, person_ids, target)
    return Measurement(table=table, target=target, labels=unique_value_labels(table, graph),
                  entities=[graph.entities[int(v)] for v in table.value_ids], person_ids=person_ids,
                  base=base, before_scores=before, before_probs=torch.softmax(before, dim=1))


def per_person_changes(model: KGEModel, setup: Measurement, value: int, steps: int, step_size: float,
                        contrast: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """delta_jp of step (2) for one value: (score changes [P, T], probability changes [P, T])."""
    moved, _ = perturb(model, setup.base, setup.person_ids, setup.table, value, steps, step_size, contrast,
                       first_all_values=setup.shared_first_step(model, contrast))
    after = profession_scores(model, moved, setup.person_ids, setup.target)
    return after - setup.before_scores, torch.softmax(after, dim=1) - setup.before_probs


def values_to_measure(setup: Measurement, value: str | None, max_values: int | None, attribute: str) -> list[int]:
    if value is not None:
        return [value_index(value, setup.labels, setup.entities, attribute)]
    count = len(setup.labels) if max_values is None else min(max_values, len(setup.labels))
    return list(range(count))


def check_professions(graph: KnowledgeGraph, use_probability: bool) -> None:
    """The probability measure compares professions with one another: with a single one its change is zero
    by construction, which must not read as "no bias"."""
    if use_probability and graph.target_table.num_values < 2:
        raise KGError(f"This graph records a single {graph.spec.target_name} in training, and the probability "
                      "measure only compares professions with one another (it would always read 0); measure the "
                      "raw score change instead (the default), or use a graph with at least two.")


def check_parameters(steps: int, step_size: float) -> None:
    if steps < 1:
        raise KGError(f"steps must be at least 1 (got {steps}).")
    if not step_size > 0:
        raise KGError(f"step_size must be positive (got {step_size}).")


@contextmanager
def evaluation_mode(model: KGEModel) -> Iterator[None]:
    """Measure in eval mode (filters with dropout etc.), restoring the caller's mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def measure_bias(model: KGEModel, graph: KnowledgeGraph, attribute: str = "gender", value: str | None = None,
                 steps: int = DEFAULT_STEPS, step_size: float = DEFAULT_STEP_SIZE,
                 use_probability: bool = DEFAULT_USE_PROBABILITY, contrast: bool = True,
                 max_values: int | None = None) -> BiasResult:
    """B_p^v (eq. 3 of the module docstring) for every profession p and every value v of ``attribute``
    (or only ``value``; or only the ``max_values`` most common values).

    All people with a recorded value of the attribute are perturbed at once (one batched gradient per
    step); values are measured one after the other.
    """
    check_parameters(steps, step_size)
    check_professions(graph, use_probability)
    started = time.perf_counter()
    with evaluation_mode(model):
        setup = prepare_measurement(model, graph, attribute)
        indices = values_to_measure(setup, value, max_values, attribute)
        score_cols, prob_cols = [], []
        for index in indices:
            d_score, d_prob = per_person_changes(model, setup, index, steps, step_size, contrast)
            score_cols.append(d_score.mean(0))
            prob_cols.append(d_prob.mean(0))
    score_change = torch.stack(score_cols, 1).cpu().double().numpy()
    probability_change = torch.stack(prob_cols, 1).cpu().double().numpy()
    measured = [setup.labels[i] for i in indices]
    chosen = probability_change if use_probability else score_change
    frame = _profession_frame(graph, attribute, setup.labels,
                              {f"B_{label}": chosen[:, j] for j, label in enumerate(measured)})
    return BiasResult(attribute=attribute, values=setup.labels, value_entities=setup.entities, measured=measured,
                      frame=frame, score_change=score_change, probability_change=probability_change,
                      people=int(setup.person_ids.numel()), steps=steps, step_size=step_size,
                      use_probability=use_probability, contrast=contrast,
                      seconds=time.perf_counter() - started, reversed=setup.table.reversed)


def _profession_frame(graph: KnowledgeGraph, attribute: str, labels: list[str],
                      extra: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Counts from ``graph.target_counts`` (columns taken by position, renamed to the unique labels), the
    data share of each value among the profession's people with a recorded value, then ``extra``."""
    counts = graph.target_counts(attribute)
    value_counts = counts.iloc[:, 3:3 + len(labels)].to_numpy()
    unknown = counts["C_unknown"].to_numpy()
    recorded = (counts["people"].to_numpy() - unknown).astype(float)
    columns: dict[str, Any] = {name: counts[name].to_numpy() for name in ("entity", "label", "people")}
    columns.update({f"C_{label}": value_counts[:, j] for j, label in enumerate(labels)})
    columns["C_unknown"] = unknown
    for j, label in enumerate(labels):
        columns[f"share_{label}"] = np.where(recorded > 0, value_counts[:, j] / np.maximum(recorded, 1), np.nan)
    columns.update(extra or {})
    return pd.DataFrame(columns)
