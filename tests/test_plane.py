"""The attribute plane (kgcore.analysis.plane): an exact orthogonal projection on axes chosen from the
question, a step size that carries the person from one value to the other, and frames that all change
something; plus the dashboard's label layout and colour language, which draw it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kgcore.analysis.people import unique_value_labels
from kgcore.analysis.plane import (attribute_plane, changing_steps, most_swapped_person, plane_basis,
                                   project_onto_plane, travel_step_size, value_anchors)
from kgcore.analysis.trajectory import person_trajectory
from kgcore.colours import FIXED_VALUES, run_colours, value_colours
from kgcore.errors import KGError
from kgcore.figures.labels import callouts, overlapping

from .factories import trained_model


def test_plane_basis_is_orthonormal_and_keeps_the_attribute_direction():
    a, b = np.array([3.0, 0.0, 0.0, 0.0]), np.array([1.0, 2.0, 0.0, 0.0])
    basis = plane_basis(a, b)
    np.testing.assert_allclose(basis @ basis.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(basis[0], [1, 0, 0, 0])
    np.testing.assert_allclose(basis[1], [0, 1, 0, 0])
    # Parallel directions still give a plane; equal values give a clear error.
    parallel = plane_basis(a, 2 * a)
    np.testing.assert_allclose(parallel @ parallel.T, np.eye(2), atol=1e-12)
    with pytest.raises(KGError, match="same vector"):
        plane_basis(np.zeros(4), b)


def test_projection_is_exact_for_points_in_the_plane():
    rng = np.random.default_rng(0)
    basis = plane_basis(rng.normal(size=8), rng.normal(size=8))
    origin = rng.normal(size=8)
    coords = rng.normal(size=(5, 2))
    points = origin + coords @ basis
    np.testing.assert_allclose(project_onto_plane(points, origin, basis), coords, atol=1e-12)
    # A move along the attribute direction moves x only, by its length.
    moved = project_onto_plane(points[0] + 2.5 * basis[0], origin, basis)[0]
    np.testing.assert_allclose(moved - coords[0], [2.5, 0.0], atol=1e-12)


def test_changing_steps_drops_frames_identical_to_the_one_before():
    positions = np.array([[0, 0], [1, 0], [1, 0], [1, 0], [2, 0]], dtype=float)
    rankings = [("a", "b"), ("a", "b"), ("b", "a"), ("b", "a"), ("b", "a")]
    assert changing_steps(positions, rankings) == [0, 1, 2, 4]


def test_a_real_person_travels_from_one_value_to_the_other(toy_graph):
    # TransE with a dot product, the demo's score: its gradient is the same at every step, so the travel is exact.
    model = trained_model(toy_graph, dim=16, epochs=3, batch_size=256, lr=0.05, interaction="transe-dot",
                          entity_norm=False)
    table = toy_graph.attribute_table("gender")
    labels = unique_value_labels(table, toy_graph)
    person = most_swapped_person(model, toy_graph, "gender", steps=10)
    assert person is not None
    pid = toy_graph.entity_to_id[person]
    held = labels[int(table.single_label()[(table.person_ids == pid).nonzero()[0, 0]])]
    target = next(v for v in labels if v != held)
    size = travel_step_size(model, toy_graph, person, "gender", labels.index(held), labels.index(target), 10)
    trajectory = person_trajectory(model, toy_graph, person, "gender", target, steps=10, step_size=size)
    plane = attribute_plane(model, toy_graph, trajectory, held)
    values = plane.values.set_index("label")
    gap = abs(values.loc[target, "x"] - values.loc[held, "x"])
    # The values sit on the x axis, symmetric about the origin; the person moves towards the target by the gap.
    assert values["y"].abs().max() < 1e-6 and abs(values["x"].sum()) < 1e-6
    direction = np.sign(values.loc[target, "x"] - values.loc[held, "x"])
    assert (plane.path["x"].iloc[-1] - plane.path["x"].iloc[0]) * direction == pytest.approx(gap, rel=1e-3)
    # Every kept frame differs from the one before, and the anchors are the model's own value vectors.
    assert plane.path["step"].is_monotonic_increasing and len(plane.path) >= 2
    xy = plane.path[["x", "y"]].to_numpy()
    assert (np.abs(np.diff(xy, axis=0)).max(axis=1) > 0).all()
    anchors = value_anchors(model, toy_graph, "gender")
    np.testing.assert_allclose(project_onto_plane(anchors, plane.origin, plane.basis),
                               plane.values[["x", "y"]].to_numpy(), atol=1e-9)
    with torch.no_grad():
        start = model.entity_vectors(torch.tensor([pid])).numpy().astype(np.float64)
    np.testing.assert_allclose(project_onto_plane(start, plane.origin, plane.basis)[0], xy[0], atol=1e-5)


def test_callouts_never_overlap():
    rng = np.random.default_rng(1)
    points = [(f"p{i}", float(x), float(y)) for i, (x, y) in enumerate(rng.normal(size=(14, 2)))]
    placed = callouts(points, 0.0, -3.0, 3.0, gap=0.3, low=-3.0, high=3.0)
    assert len(placed) == 14 and not overlapping(placed, 0.3)
    assert {c.side for c in placed if c.x < 0} <= {"left"}


def test_value_colours_follow_the_value_not_its_position():
    assert value_colours(["male", "female"]) == value_colours(["female", "male"])
    assert value_colours(["male", "female"])["female"] == FIXED_VALUES["female"]
    religions = ["Aurism", "Belenism", "Corvic", "Dunarism", "none of these"]
    first, second = value_colours(religions), value_colours(list(reversed(religions)))
    assert first == second and len(set(first.values())) == len(religions)
    assert value_colours(["female", "not recorded"])["not recorded"] != FIXED_VALUES["female"]
    shades = run_colours([("a", "kl", "#5e81ac"), ("b", "kl", "#5e81ac"), ("c", "bose", "#b48ead")])
    assert shades["a"] == "#5e81ac" and shades["b"] != shades["a"] and shades["c"] == "#b48ead"
