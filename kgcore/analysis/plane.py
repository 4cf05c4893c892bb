"""The attribute plane: a 2-D view of one person's embedding shift in which the move is the point.

A map fitted to the whole embedding (PCA, UMAP) spends its two axes on whatever varies most, and the
perturbation of one person is a tiny move in it. This view instead chooses its axes from the question:

- x: the *attribute direction*, from the held value's vector to the target value's vector, both "as the
  model scores them": the entity vector a person would need to score that value highest
  (``Interaction.head_query(r_a, v)``; ``tail_query(v, r_a)`` for attributes stored value -> person).
  For TransE with a dot product this is v itself, and the perturbation moves the person exactly along x.
- y: the direction of the person's top professions (their mean, again as the model scores them),
  with the x part removed (Gram-Schmidt), so the two axes are orthonormal.

The origin is the midpoint between the two values, so the values sit on the x axis. Every point is an
orthogonal projection onto this plane: nothing is fitted, and a vector lands exactly where the model's
vector ends (up to the dimensions the plane leaves out).

``travel_step_size`` sizes the steps so that the person moves as far along x as the two values lie apart:
from their own side to where they would sit had the model read the other value. ``attribute_plane``
then places the trajectory and keeps only the steps that change something, ending where the
ranking stops changing (but not before the person has reached the other value).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from ..errors import KGError

if TYPE_CHECKING:
    from ..data.graph import KnowledgeGraph
    from ..models import KGEModel
    from .trajectory import PersonTrajectory


def plane_basis(attribute_direction: np.ndarray, other_direction: np.ndarray) -> np.ndarray:
    """Orthonormal rows [2, D]: the unit ``attribute_direction`` and the part of ``other_direction``
    orthogonal to it (any orthogonal unit vector when the two are parallel)."""
    a = np.asarray(attribute_direction, dtype=np.float64).ravel()
    b = np.asarray(other_direction, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise KGError(f"A plane needs two directions of the same dimension >= 2 (got {a.size} and {b.size}).")
    norm = np.linalg.norm(a)
    if not np.isfinite(norm) or norm == 0:
        raise KGError("The two attribute values have the same vector in this model: there is no direction "
                      "between them to draw.")
    u1 = a / norm
    rest = b - (b @ u1) * u1
    if np.linalg.norm(rest) < 1e-9 * max(np.linalg.norm(b), 1.0):
        rest = np.zeros_like(u1)
        rest[int(np.argmin(np.abs(u1)))] = 1.0  # the axis least like u1
        rest -= (rest @ u1) * u1
    return np.stack([u1, rest / np.linalg.norm(rest)])


def project_onto_plane(vectors: np.ndarray, origin: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Coordinates [n, 2] of ``vectors`` [n, D] (or [D]) in the plane through ``origin`` with the
    orthonormal ``basis`` [2, D]: the orthogonal projection."""
    array = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    return (array - np.asarray(origin, dtype=np.float64)) @ np.asarray(basis, dtype=np.float64).T


def changing_steps(positions: np.ndarray, rankings: list[tuple[str, ...]], tol: float = 1e-9) -> list[int]:
    """The steps that differ from the step kept before them, in position (beyond ``tol``) or in ranking:
    the frames worth drawing. Step 0 is always kept."""
    if len(positions) != len(rankings):
        raise KGError("One ranking per position is needed.")
    kept = [0] if len(rankings) else []
    for step in range(1, len(rankings)):
        last = kept[-1]
        moved = float(np.abs(np.asarray(positions[step]) - np.asarray(positions[last])).max()) > tol
        if moved or rankings[step] != rankings[last]:
            kept.append(step)
    return kept


# ---------------------------------------------------------------------------------------------- the model's side
def _scored(model: "KGEModel", ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.entity_vectors(ids.to(model.entity.weight.device)).detach().cpu()


def value_anchors(model: "KGEModel", graph: "KnowledgeGraph", attribute: str) -> np.ndarray:
    """[V, D]: for each value of ``attribute``, the entity vector the model would score highest for it
    (where a person holding the value would sit)."""
    table = graph.attribute_table(attribute)
    device = model.entity.weight.device
    with torch.no_grad():
        relation = model.relation_vector(table.relation_id, device)
        values = _scored(model, table.value_ids).to(device)
        anchors = (model.interaction.tail_query(values, relation) if table.reversed
                   else model.interaction.head_query(relation, values))
    return anchors.detach().cpu().numpy().astype(np.float64)


def profession_anchors(model: "KGEModel", graph: "KnowledgeGraph") -> np.ndarray:
    """[T, D]: for each profession, the entity vector the model would score highest for it."""
    target = graph.target_table
    device = model.entity.weight.device
    with torch.no_grad():
        relation = model.relation_vector(target.relation_id, device)
        anchors = model.interaction.head_query(relation, _scored(model, target.value_ids).to(device))
    return anchors.detach().cpu().numpy().astype(np.float64)


def travel_step_size(model: "KGEModel", graph: "KnowledgeGraph", person: int | str, attribute: str,
                     held: int, value: int, steps: int) -> float:
    """The step size with which ``steps`` perturbation steps of ``person`` move the vector the model
    scores (after ``represent``: Bose's filters) along the attribute direction (value index ``held`` ->
    ``value``) as far as the two values' anchors lie apart, judged at the first step (exact for TransE with
    a dot product, whose gradient never changes)."""
    from .measure import attribute_gradient, base_embeddings
    from .people import resolve_person

    if steps < 1:
        raise KGError(f"steps must be at least 1 (got {steps}).")
    anchors = value_anchors(model, graph, attribute)
    direction = anchors[value] - anchors[held]
    gap = float(np.linalg.norm(direction))
    if gap == 0:
        raise KGError("The two attribute values have the same vector in this model: there is no shift to draw.")
    pid = resolve_person(graph, person)
    ids = torch.tensor([pid], device=model.entity.weight.device)
    base = base_embeddings(model, ids)
    _, grad = attribute_gradient(model, base, ids, graph.attribute_table(attribute), value)
    probe = 1e-3 / max(float(grad.norm()), 1e-12)  # a small step, to read how far the scored vector moves
    with torch.no_grad():
        start = model.represent(base, ids).cpu().numpy().astype(np.float64)[0]
        moved = model.represent(base + probe * grad, ids).cpu().numpy().astype(np.float64)[0]
    along = float((moved - start) @ (direction / gap)) / probe
    if not np.isfinite(along) or along <= 1e-12:
        raise KGError("Raising this value's score does not move the person towards it in this model; "
                      "there is no shift to draw.")
    return gap / (steps * along)


@dataclass
class AttributePlane:
    """A trajectory in the attribute plane, ready to draw.

    ``path``: one row per kept step (step, x, y); ``values``: entity, label, x, y of every value of the
    attribute; ``professions``: entity, label, x, y, held and ``top_steps`` (how many kept steps rank it in
    the top list) for every profession that is in the top list at some kept step; ``ranking``: the
    trajectory's ranking restricted to the kept steps. ``settled_at``: the last step at which the ranking
    changed (None: it never changed); ``still_changing``: it was changing at the last computed step.
    """

    held: str
    target: str
    basis: np.ndarray
    origin: np.ndarray
    path: pd.DataFrame
    values: pd.DataFrame
    professions: pd.DataFrame
    ranking: pd.DataFrame
    settled_at: int | None
    still_changing: bool
    travel: float = field(default=0.0)  # distance the person moves along x, first kept step to last


def _rankings(ranking: pd.DataFrame, steps: int) -> list[tuple[str, ...]]:
    ordered = ranking.sort_values(["step", "rank"])
    by_step = ordered.groupby("step")["entity"].apply(tuple).to_dict()
    return [by_step.get(step, ()) for step in range(steps)]


def attribute_plane(model: "KGEModel", graph: "KnowledgeGraph", trajectory: "PersonTrajectory",
                    held: str) -> AttributePlane:
    """Place ``trajectory`` (kgcore.analysis.trajectory) in the plane of the attribute direction from
    ``held`` to the trajectory's value and of the person's top professions.

    The drawn path ends at the later of two steps: the first one at which the person has moved towards the
    target value (along x) as far as the two values lie apart ("reached the other value"; the last step if
    they never do), and the last one at which the ranking changed. Steps identical to the one before (position and ranking) are left out."""
    labels = list(trajectory.value_labels)
    if held not in labels or trajectory.value not in labels:
        raise KGError(f"Both {held!r} and {trajectory.value!r} must be values of {trajectory.attribute!r}.")
    if held == trajectory.value:
        raise KGError(f"The person already holds {held!r}; choose another value to move towards.")
    table = graph.attribute_table(trajectory.attribute)
    anchors = value_anchors(model, graph, trajectory.attribute)
    h, t = labels.index(held), labels.index(trajectory.value)
    pid = graph.entity_to_id[trajectory.person]
    base = torch.as_tensor(trajectory.embeddings, dtype=torch.float32, device=model.entity.weight.device)
    with torch.no_grad():
        person = model.represent(base, torch.full((base.shape[0],), pid, dtype=torch.long,
                                                  device=base.device)).detach().cpu().numpy().astype(np.float64)

    entities = list(trajectory.profession_entities)
    index = {e: i for i, e in enumerate(entities)}
    every = list(dict.fromkeys(trajectory.ranking.sort_values(["step", "rank"])["entity"]))
    prof_anchors = profession_anchors(model, graph)
    origin = (anchors[h] + anchors[t]) / 2
    basis = plane_basis(anchors[t] - anchors[h], prof_anchors[[index[e] for e in every]].mean(0) - origin)
    xy_all = project_onto_plane(person, origin, basis)
    value_xy = project_onto_plane(anchors, origin, basis)

    n = person.shape[0]
    rankings = _rankings(trajectory.ranking, n)
    changes = [s for s in range(1, n) if rankings[s] != rankings[s - 1]]
    settled = changes[-1] if changes else None
    gap = abs(value_xy[t, 0] - value_xy[h, 0])
    direction = np.sign(value_xy[t, 0] - value_xy[h, 0])
    reached = [s for s in range(n) if (xy_all[s, 0] - xy_all[0, 0]) * direction >= gap * (1 - 1e-6)]
    end = max(reached[0] if reached else n - 1, settled or 0)
    kept = [s for s in changing_steps(person, rankings) if s <= end]

    xy = xy_all[kept]
    path = pd.DataFrame({"step": kept, "x": xy[:, 0], "y": xy[:, 1]})
    values = pd.DataFrame({"entity": [graph.entities[int(v)] for v in table.value_ids], "label": labels,
                           "x": value_xy[:, 0], "y": value_xy[:, 1]})
    ranking = trajectory.ranking[trajectory.ranking["step"].isin(kept)]
    shown = list(dict.fromkeys(ranking.sort_values(["step", "rank"])["entity"]))
    prof_xy = project_onto_plane(prof_anchors[[index[e] for e in shown]], origin, basis)
    counts = ranking["entity"].value_counts()
    held_professions = set(trajectory.held_professions)
    professions = pd.DataFrame({"entity": shown, "label": [trajectory.profession_labels[index[e]] for e in shown],
                                "x": prof_xy[:, 0], "y": prof_xy[:, 1],
                                "held": [e in held_professions for e in shown],
                                "top_steps": [int(counts.get(e, 0)) for e in shown]})
    return AttributePlane(held=held, target=trajectory.value, basis=basis, origin=origin, path=path,
                          values=values, professions=professions, ranking=ranking.reset_index(drop=True),
                          settled_at=settled, still_changing=bool(changes) and changes[-1] == n - 1,
                          travel=float(abs(xy[-1, 0] - xy[0, 0])) if len(xy) else 0.0)


def most_swapped_person(model: "KGEModel", graph: "KnowledgeGraph", attribute: str, steps: int = 20,
                        top: int = 5) -> str | None:
    """The person (entity name) whose top-``top`` professions change most when moved, with the step size of
    ``travel_step_size``, from the value they hold to the first other value: the telling example for the
    shift view. Ties go to someone who holds a profession that leaves their top list, then to the
    lowest id. None when no person has a recorded value."""
    from .measure import base_embeddings, perturb, profession_scores

    table = graph.attribute_table(attribute)
    target = graph.target_table
    if table.num_values < 2 or target.num_values == 0:
        return None
    first = table.single_label()
    device = model.entity.weight.device
    best: tuple[tuple, str] | None = None
    for held in range(table.num_values):
        rows = (first == held).nonzero().flatten()
        if rows.numel() == 0:
            continue
        value = 1 if held == 0 else 0
        ids = table.person_ids[rows].to(device)
        try:
            size = travel_step_size(model, graph, int(ids[0]), attribute, held, value, steps)
        except KGError:
            continue
        base = base_embeddings(model, ids)
        moved, _ = perturb(model, base, ids, table, value, steps, size)
        before = profession_scores(model, base, ids, target).topk(top, dim=1).indices.cpu()
        after = profession_scores(model, moved, ids, target).topk(top, dim=1).indices.cpu()
        swapped = torch.tensor([len(set(b.tolist()) - set(a.tolist())) for b, a in zip(before, after)])
        top_changed = (before[:, 0] != after[:, 0]).long()
        for row, pid in enumerate(ids.cpu().tolist()):
            key = (int(swapped[row]), int(top_changed[row]), -pid)
            if best is None or key > best[0]:
                best = (key, graph.entities[pid])
    return best[1] if best else None


__all__ = ["plane_basis", "project_onto_plane", "changing_steps", "value_anchors", "profession_anchors",
           "travel_step_size", "AttributePlane", "attribute_plane", "most_swapped_person"]
