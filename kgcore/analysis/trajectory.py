"""One person's perturbation step by step (the measure's step (1) repeated), with every profession's
score and the top-ranked professions after each step: what the dashboard animates."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..errors import SpecError
from ..data.graph import KnowledgeGraph
from ..models import KGEModel
from .measure import (attribute_objective, attribute_scores, base_embeddings, check_parameters, evaluation_mode,
                      perturb, profession_scores)
from .people import held_values, resolve_person, unique_value_labels, value_index

TRAJECTORY_STEPS = 20


TRAJECTORY_STEP_SIZE = 0.02


@dataclass
class PersonTrajectory:
    """One person's perturbation, step by step: what the dashboard animates.

    ``embeddings`` [steps+1, D] are the base embeddings after each step (row 0: trained);
    ``attribute_scores`` [steps+1, V] the scores of (person, r_a, u) for every value u;
    ``profession_scores`` / ``profession_probabilities`` [steps+1, T] the scores and softmax probabilities
    of every profession; ``ranking`` the top professions at each step (long format: step, rank, entity,
    label, score, probability, held).
    """

    person: str
    person_label: str
    attribute: str
    value: str
    value_labels: list[str]
    steps: int
    step_size: float
    embeddings: np.ndarray
    attribute_scores: np.ndarray
    objective: np.ndarray
    profession_entities: list[str]
    profession_labels: list[str]
    profession_scores: np.ndarray
    profession_probabilities: np.ndarray
    held_professions: list[str]
    ranking: pd.DataFrame = field(default_factory=pd.DataFrame)


def person_trajectory(model: KGEModel, graph: KnowledgeGraph, person: int | str, attribute: str = "gender",
                      value: str | None = None, steps: int = TRAJECTORY_STEPS,
                      step_size: float = TRAJECTORY_STEP_SIZE, top: int = 10,
                      contrast: bool = True) -> PersonTrajectory:
    """Step (1) for one person, recording the embedding and every profession's score after each step.

    ``person``: an entity id, an entity name (``/m/...``) or a unique label. ``value`` defaults to the
    value the person does *not* hold (the first such value), so the animation shows a change.
    """
    check_parameters(steps, step_size)
    table = graph.attribute_table(attribute)
    target = graph.target_table
    labels = unique_value_labels(table, graph)
    entities = [graph.entities[int(v)] for v in table.value_ids]
    pid = resolve_person(graph, person)
    if value is None:
        held = held_values(table, pid)
        candidates = [i for i in range(len(labels)) if i not in held]
        if not candidates:
            raise SpecError(f"{graph.label(pid)} holds every value of {attribute!r}; pass --value.")
        index = candidates[0]
    else:
        index = value_index(value, labels, entities, attribute)
    device = model.entity.weight.device
    ids = torch.tensor([pid], device=device)
    with evaluation_mode(model):
        base = base_embeddings(model, ids)
        _, path = perturb(model, base, ids, table, index, steps, step_size, contrast, keep_path=True)
        stacked = torch.cat(path)  # [steps+1, D]
        repeated = ids.expand(stacked.shape[0])
        with torch.no_grad():
            attr = attribute_scores(model, stacked, repeated, table)
        objective = attribute_objective(attr, index, contrast)
        prof = profession_scores(model, stacked, repeated, target)
    probs = torch.softmax(prof, dim=1)
    prof_entities = [graph.entities[int(v)] for v in target.value_ids]
    prof_labels = list(target.value_labels)
    row = (target.person_ids == pid).nonzero()
    held_prof = ([prof_entities[j] for j in target.membership[int(row[0, 0])].nonzero().flatten().tolist()]
                 if row.numel() else [])
    ranking_rows = []
    k = min(top, prof.shape[1])
    for step in range(prof.shape[0]):
        order = torch.argsort(prof[step], descending=True)[:k]
        for rank, j in enumerate(order.tolist(), start=1):
            ranking_rows.append({"step": step, "rank": rank, "entity": prof_entities[j], "label": prof_labels[j],
                                 "score": float(prof[step, j]), "probability": float(probs[step, j]),
                                 "held": prof_entities[j] in held_prof})
    return PersonTrajectory(
        person=graph.entities[pid], person_label=graph.label(pid), attribute=attribute, value=labels[index],
        value_labels=labels, steps=steps, step_size=step_size, embeddings=stacked.cpu().numpy(),
        attribute_scores=attr.cpu().numpy(), objective=objective.cpu().numpy(),
        profession_entities=prof_entities, profession_labels=prof_labels, profession_scores=prof.cpu().numpy(),
        profession_probabilities=probs.cpu().numpy(), held_professions=held_prof,
        ranking=pd.DataFrame(ranking_rows),
    )
