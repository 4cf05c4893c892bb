"""``kgcore.analysis.streaming``: the bias measure over people read in chunks from files equals
``measure_bias`` in memory, for several interactions, chunk sizes and step counts."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kgcore.analysis.measure import measure_bias
from kgcore.analysis.streaming import measured_table, stream_bias

from .factories import trained_model

h5py = pytest.importorskip("h5py")


def _people(model, graph):
    table = graph.attribute_table("gender")
    ids = table.person_ids[table.membership.any(1)]
    return table, ids, model.entity.weight.detach()[ids].numpy()


@pytest.mark.parametrize("interaction,steps", [("transe-l1", 1), ("transe-dot", 1), ("distmult", 3)])
def test_streaming_equals_in_memory(interaction, steps, toy_graph, tmp_path):
    model = trained_model(toy_graph, epochs=3, interaction=interaction, entity_norm=interaction == "transe-l1")
    expected = measure_bias(model, toy_graph, "gender", steps=steps)
    table, ids, rows = _people(model, toy_graph)
    path = tmp_path / "people.npy"
    np.save(path, rows)
    people = np.load(path, mmap_mode="r")
    got = stream_bias(model, people, table, toy_graph.target_table, steps=steps, person_ids=ids, chunk_size=37)
    assert got.people == len(ids) and got.chunks == -(-len(ids) // 37)
    np.testing.assert_allclose(got.score_change, expected.score_change, atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(got.probability_change, expected.probability_change, atol=1e-6, rtol=1e-5)


def test_small_model_and_hdf5_people(toy_graph, tmp_path):
    """People from an HDF5 dataset (PBG's layout), scored by a model holding only values and professions."""
    from kgcore.models import build_model

    model = trained_model(toy_graph, epochs=3, interaction="transe-dot", entity_norm=False)
    expected = measure_bias(model, toy_graph, "gender")
    table, _, rows = _people(model, toy_graph)
    with h5py.File(tmp_path / "embeddings_all_0.v1.h5", "w") as handle:
        handle.create_dataset("embeddings", data=rows)
    target = toy_graph.target_table
    keep = torch.cat([table.value_ids, target.value_ids])
    small = build_model(model.config, toy_graph)  # same architecture; only the kept rows are read
    small.entity.weight.data.zero_()
    small.entity.weight.data[keep] = model.entity.weight.data[keep]
    small.relation.weight.data.copy_(model.relation.weight.data)
    with h5py.File(tmp_path / "embeddings_all_0.v1.h5", "r") as handle:
        got = stream_bias(small, handle["embeddings"], measured_table("gender", table.relation_id, table.value_ids),
                          measured_table("profession", target.relation_id, target.value_ids), chunk_size=50)
    np.testing.assert_allclose(got.score_change, expected.score_change, atol=1e-6, rtol=1e-5)
