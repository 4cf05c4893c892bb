"""2-D projections: fitted once, deterministic, new points placed with the same map; the shift scene
places a real trajectory of a real trained model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kgcore.analysis.trajectory import person_trajectory
from kgcore.errors import KGError
from kgcore.analysis.projection import backdrop_ids, fit_projection, fit_scene_projection, shift_scene

from .factories import trained_model


def _clusters(seed: int = 0, n: int = 40, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Two well separated Gaussian clusters in ``dim`` dimensions and their labels."""
    rng = np.random.default_rng(seed)
    centre = np.zeros(dim)
    centre[3] = 10.0
    a = rng.normal(size=(n, dim))
    b = rng.normal(size=(n, dim)) + centre
    return np.vstack([a, b]), np.array([0] * n + [1] * n)


def test_pca_is_deterministic_and_transform_reuses_the_fitted_map():
    x, _ = _clusters()
    first, second = fit_projection(x, "pca", seed=0), fit_projection(x.copy(), "pca", seed=0)
    np.testing.assert_allclose(first.transform(x), second.transform(x))
    assert first.method == "pca" and first.input_dim == 16 and first.n_fitted == 80
    # The first component carries the separation between the clusters.
    assert first.explained_variance_ratio[0] > 0.5
    # A new point goes through the same affine map: placing it changes nothing else, and moving a point
    # by a vector moves its image by the image of that vector (linearity), wherever it starts.
    shift = np.zeros(16)
    shift[3] = 2.0
    before = first.transform(x[:5])
    moved = first.transform(x[:5] + shift)
    delta = moved - before
    np.testing.assert_allclose(delta, np.repeat(delta[:1], 5, axis=0), atol=1e-9)
    assert np.linalg.norm(delta[0]) > 1.0
    np.testing.assert_allclose(first.transform(x[:5]), before)
    # A single vector is accepted and gives one 2-D point.
    assert first.transform(x[0]).shape == (1, 2)


def test_pca_separates_clusters_along_the_first_axis():
    x, labels = _clusters(seed=1)
    xy = fit_projection(torch.tensor(x), "pca").transform(x)
    a, b = xy[labels == 0, 0], xy[labels == 1, 0]
    assert a.max() < b.min() or b.max() < a.min()


@pytest.mark.slow
def test_umap_option_keeps_clusters_apart_and_places_new_points_near_their_cluster():
    x, labels = _clusters(seed=2, n=30)
    projection = fit_projection(x, "umap", seed=0, n_neighbors=10)
    again = fit_projection(x, "umap", seed=0, n_neighbors=10)
    xy = projection.transform(x)
    np.testing.assert_allclose(xy, again.transform(x), atol=1e-4)
    centre_a, centre_b = xy[labels == 0].mean(0), xy[labels == 1].mean(0)
    spread = max(xy[labels == 0].std(0).max(), xy[labels == 1].std(0).max())
    assert np.linalg.norm(centre_a - centre_b) > 2 * spread
    # A new point drawn from cluster b lands nearer b's centre than a's.
    rng = np.random.default_rng(9)
    new = rng.normal(size=(1, 16))
    new[0, 3] += 10.0
    point = projection.transform(new)[0]
    assert np.linalg.norm(point - centre_b) < np.linalg.norm(point - centre_a)


@pytest.mark.parametrize("vectors, method, message", [
    (np.zeros((10, 4)), "tsne", "Unknown projection"),
    (np.zeros((2, 4)), "pca", "at least 3 vectors"),
    (np.zeros((10, 1)), "pca", "at least 2 dimensions"),
    (np.full((10, 4), np.nan), "pca", "NaN"),
    (np.zeros((2, 3, 4)), "pca", "matrix"),
])
def test_bad_input_is_a_clear_error(vectors, method, message):
    with pytest.raises(KGError, match=message):
        fit_projection(vectors, method)


def test_transform_rejects_vectors_of_another_dimension():
    projection = fit_projection(np.random.default_rng(0).normal(size=(20, 8)))
    with pytest.raises(KGError, match="8-dimensional"):
        projection.transform(np.zeros((3, 5)))
    assert projection.transform(np.zeros((0, 8))).shape == (0, 2)


def test_shift_scene_places_a_real_trajectory_with_the_fitted_map(toy_graph):
    model = trained_model(toy_graph, dim=16, epochs=3, batch_size=256, lr=0.01)
    projection = fit_scene_projection(model, toy_graph, "gender", "pca", n_people=100)
    person = int(toy_graph.attribute_table("gender").person_ids[0])
    trajectory = person_trajectory(model, toy_graph, person, "gender", steps=6, step_size=0.05)
    scene = shift_scene(model, toy_graph, trajectory, projection, n_people=100)
    ids = backdrop_ids(toy_graph, "gender", n_people=100)
    assert len(scene.path) == 7
    counts = scene.backdrop["kind"].value_counts().to_dict()
    assert counts == {"person": 100, "profession": len(ids["profession"]), "value": 2}
    # Step 0 is the trained embedding, placed by the same map as the backdrop.
    trained = model.entity_vectors(torch.tensor([person])).detach().numpy()
    np.testing.assert_allclose(scene.path.loc[0, ["x", "y"]].to_numpy(dtype=float),
                               projection.transform(trained)[0], atol=1e-5)
    # The person moves, and the relation arrows move with the person (PCA is linear: same offset).
    # (with an L1 score the gradient can vanish once the person is past both values, so later steps may rest)
    start, end = scene.path[["x", "y"]].to_numpy()[[0, -1]]
    assert np.linalg.norm(end - start) > 0
    offsets = scene.path[["ax", "ay"]].to_numpy() - scene.path[["x", "y"]].to_numpy()
    np.testing.assert_allclose(offsets, np.repeat(offsets[:1], len(offsets), axis=0), atol=1e-6)
