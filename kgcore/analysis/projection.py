"""2-D maps of embeddings for pictures: fit once, then place new points with the same map.

The embedding-shift figure moves one person's vector step by step. If the map were refitted for every
step, the whole picture would jump around and the person's movement would be lost in it; so the map is
fitted once on a fixed backdrop (professions, attribute values, a sample of people) and every later
point, including the shifted person, goes through ``Projection.transform``.

PCA (scikit-learn) is the default: linear, so a translation such as ``person + r_gender`` is drawn as
the same arrow wherever the person stands, and fast. UMAP (umap-learn) is an option that keeps local
neighbourhoods better; it is non-linear, so arrows are only approximate, and its first fit compiles
numba code (tens of seconds).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from ..errors import KGError

if TYPE_CHECKING:
    from .trajectory import PersonTrajectory
    from ..data.graph import KnowledgeGraph
    from ..models import KGEModel

METHODS = ("pca", "umap")


@dataclass
class Projection:
    """A fitted map from D-dimensional vectors to 2-D; ``transform`` places any vectors with it."""

    method: str
    seed: int
    input_dim: int
    n_fitted: int
    estimator: Any = field(repr=False)
    explained_variance_ratio: tuple[float, float] | None = None

    def transform(self, vectors: np.ndarray | torch.Tensor) -> np.ndarray:
        """2-D coordinates [n, 2] of ``vectors`` [n, D] (or one vector [D]) under the fitted map."""
        array = _as_matrix(vectors, "vectors")
        if array.shape[1] != self.input_dim:
            raise KGError(f"This projection was fitted on {self.input_dim}-dimensional vectors; "
                          f"got {array.shape[1]}-dimensional ones. Fit a projection for these vectors.")
        if array.shape[0] == 0:
            return np.empty((0, 2))
        return np.asarray(self.estimator.transform(array), dtype=np.float64)


def _as_matrix(vectors: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    if isinstance(vectors, torch.Tensor):
        vectors = vectors.detach().cpu().numpy()
    array = np.asarray(vectors, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise KGError(f"{name} must be a matrix [n, D] of embedding vectors (got shape {array.shape}).")
    if not np.isfinite(array).all():
        raise KGError(f"{name} holds NaN or infinite values; the model's embeddings are not usable.")
    return array


def fit_projection(vectors: np.ndarray | torch.Tensor, method: str = "pca", seed: int = 0,
                   n_neighbors: int = 15) -> Projection:
    """Fit a 2-D ``method`` ("pca" or "umap") map on ``vectors`` [n, D], deterministic for a ``seed``."""
    method = method.lower()
    if method not in METHODS:
        raise KGError(f"Unknown projection {method!r}; choose one of {', '.join(METHODS)}.")
    array = _as_matrix(vectors, "vectors")
    n, d = array.shape
    if d < 2:
        raise KGError(f"A 2-D projection needs vectors of at least 2 dimensions (got {d}).")
    if n < 3:
        raise KGError(f"A 2-D projection needs at least 3 vectors to fit (got {n}).")
    if method == "pca":
        from sklearn.decomposition import PCA

        estimator = PCA(n_components=2, svd_solver="full", random_state=seed).fit(array)
        ratio = tuple(float(x) for x in estimator.explained_variance_ratio_)
        return Projection("pca", seed, d, n, estimator, ratio)  # type: ignore[arg-type]
    import warnings

    try:
        import umap  # noqa: PLC0415  (slow import: only when asked for)
    except ImportError as exc:  # pragma: no cover - umap-learn is a dependency
        raise KGError("UMAP needs the umap-learn package (pip install umap-learn); PCA works without it.") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state": determinism is the point
        estimator = umap.UMAP(n_components=2, n_neighbors=max(2, min(n_neighbors, n - 1)), random_state=seed,
                              init="spectral" if n > 10 else "random").fit(array)
    return Projection("umap", seed, d, n, estimator)


# ---------------------------------------------------------------------------------------------- scenes
@dataclass
class ShiftScene:
    """Everything the embedding-shift figure draws, already in 2-D.

    ``backdrop``: professions, attribute values and sampled people (columns kind, entity, label, x, y);
    ``path``: one row per step with the person (x, y), the tip of person + r_attribute (ax, ay) and the
    tip of person + r_profession (px, py).
    """

    projection: Projection
    backdrop: pd.DataFrame
    path: pd.DataFrame
    arrows: bool = True  # False: the interaction is no translation, and the arrow tips are NaN


def scored_vectors(model: "KGEModel", ids: torch.Tensor | None = None,
                   base: torch.Tensor | None = None) -> torch.Tensor:
    """The vectors a model scores with (after ``represent``: Bose's filters, ...) for entity ``ids`` or
    for free ``base`` embeddings (rows of a trajectory)."""
    with torch.no_grad():
        if base is not None:
            return model.represent(base.to(model.entity.weight.device), ids).detach().cpu()
        if ids is None:
            return model.all_entity_vectors().detach().cpu()
        return model.entity_vectors(ids.to(model.entity.weight.device)).detach().cpu()


def backdrop_ids(graph: "KnowledgeGraph", attribute: str, n_people: int = 400,
                 seed: int = 0) -> dict[str, torch.Tensor]:
    """Entity ids of the backdrop: every profession, every value of ``attribute``, and a seeded sample
    of up to ``n_people`` people."""
    people = graph.people
    if people.numel() > n_people:
        generator = torch.Generator().manual_seed(seed)
        people = people[torch.randperm(people.numel(), generator=generator)[:n_people]].sort().values
    return {"profession": graph.target_table.value_ids, "value": graph.attribute_table(attribute).value_ids,
            "person": people}


def fit_scene_projection(model: "KGEModel", graph: "KnowledgeGraph", attribute: str, method: str = "pca",
                         seed: int = 0, n_people: int = 400) -> Projection:
    """Fit the map once per (model, attribute, method) on the backdrop and, for translational
    interactions, on the tips of the backdrop people's relation arrows, so arrow tips land in fitted
    territory."""
    ids = backdrop_ids(graph, attribute, n_people, seed)
    people = scored_vectors(model, ids["person"])
    parts = [scored_vectors(model, ids["profession"]), scored_vectors(model, ids["value"]), people]
    tips = arrow_tips(model, graph, attribute, people)
    if tips is not None:
        parts += [tips["attribute"], tips["profession"]]
    return fit_projection(torch.cat(parts).numpy(), method=method, seed=seed)


def arrow_tips(model: "KGEModel", graph: "KnowledgeGraph", attribute: str,
               people: torch.Tensor) -> dict[str, torch.Tensor] | None:
    """Where each person's attribute and profession relations point in entity space (h + r for TransE),
    or None when the model's interaction is not a translation (DistMult, ComplEx compare by products:
    there is no point in entity space to draw an arrow to).

    For an attribute stored value -> person the arrow points at the value whose translation reaches the
    person (``head_query``: person - r)."""
    interaction = model.interaction
    if not interaction.translational:
        return None
    table = graph.attribute_table(attribute)
    device = model.entity.weight.device
    with torch.no_grad():
        attr = model.relation_vector(table.relation_id, device).cpu()
        prof = model.relation_vector(graph.target_table.relation_id, device).cpu()
        towards_value = (interaction.head_query(attr, people) if table.reversed
                         else interaction.tail_query(people, attr))
        return {"attribute": towards_value, "profession": interaction.tail_query(people, prof)}


def shift_scene(model: "KGEModel", graph: "KnowledgeGraph", trajectory: "PersonTrajectory",
                projection: Projection, n_people: int = 400, seed: int = 0) -> ShiftScene:
    """Place a ``PersonTrajectory`` (kgcore.analysis.trajectory) and the backdrop with one fitted
    ``projection``. Arrow tips are NaN when the interaction is not a translation (``ShiftScene.arrows``)."""
    ids = backdrop_ids(graph, trajectory.attribute, n_people, seed)
    rows = []
    for kind, entity_ids in ids.items():
        xy = projection.transform(scored_vectors(model, entity_ids))
        for (x, y), eid in zip(xy, entity_ids.tolist()):
            rows.append({"kind": kind, "entity": graph.entities[eid], "label": graph.label(eid), "x": x, "y": y})
    backdrop = pd.DataFrame(rows)
    pid = graph.entity_to_id[trajectory.person]
    steps = torch.as_tensor(trajectory.embeddings, dtype=torch.float32)
    person = scored_vectors(model, torch.full((steps.shape[0],), pid, dtype=torch.long), base=steps)
    here = projection.transform(person)
    tips = arrow_tips(model, graph, trajectory.attribute, person)
    nowhere = np.full_like(here, np.nan)
    attr_tip = projection.transform(tips["attribute"]) if tips is not None else nowhere
    prof_tip = projection.transform(tips["profession"]) if tips is not None else nowhere
    path = pd.DataFrame({"step": np.arange(len(here)), "x": here[:, 0], "y": here[:, 1],
                         "ax": attr_tip[:, 0], "ay": attr_tip[:, 1], "px": prof_tip[:, 0], "py": prof_tip[:, 1]})
    return ShiftScene(projection=projection, backdrop=backdrop, path=path, arrows=tips is not None)


__all__ = ["Projection", "fit_projection", "METHODS", "ShiftScene", "shift_scene", "fit_scene_projection",
           "backdrop_ids", "scored_vectors", "arrow_tips"]
