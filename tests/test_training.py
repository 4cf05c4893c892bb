"""Real training on a small generated graph: the loss falls, link prediction beats chance, seeds repeat."""
from __future__ import annotations

import torch

from kgcore.training.evaluate import evaluate

from .factories import fit, trained_model, untrained_model


def test_loss_falls_and_mrr_beats_random(toy_graph):
    trained = fit(toy_graph)
    model, result = trained.model, trained.result
    assert result.history[-1].loss < 0.5 * result.history[0].loss
    baseline = evaluate(untrained_model(toy_graph), toy_graph, "test")["mrr"]
    metrics = evaluate(model, toy_graph, "test")
    assert metrics["mrr"] > 2 * baseline, (metrics, baseline)
    # Gender facts seen in training are recalled (a tail ranking among all entities).
    seen = evaluate(model, toy_graph, "train", relation="has_gender")
    assert seen["tail"]["hits@3"] > 0.8, seen
    assert all(r.seconds > 0 for r in result.history)


def test_training_is_reproducible(toy_graph):
    a = trained_model(toy_graph, seed=3, epochs=3)
    b = trained_model(toy_graph, seed=3, epochs=3)
    c = trained_model(toy_graph, seed=4, epochs=3)
    assert torch.equal(a.entity.weight, b.entity.weight)
    assert not torch.equal(a.entity.weight, c.entity.weight)


def test_entities_stay_normalised(toy_graph):
    model = trained_model(toy_graph, epochs=2)
    norms = model.entity.weight.norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


def test_evaluation_scores_bounded_blocks_and_block_size_does_not_change_ranks(toy_graph, monkeypatch):
    """Every score block stays within ``block_bytes`` (about 12 bytes per entry with the masks), and any
    block size gives the same filtered metrics as scoring everything at once."""
    model = trained_model(toy_graph, dim=16, epochs=2, lr=0.01)
    whole = evaluate(model, toy_graph, "test", block_bytes=1 << 30)
    shapes: list[tuple[int, int]] = []
    for name in ("score_tails", "score_heads"):
        original = getattr(model, name)

        def recording(*args, _original=original, **kwargs):
            scores = _original(*args, **kwargs)
            shapes.append(tuple(scores.shape))
            return scores
        monkeypatch.setattr(model, name, recording)
    budget = 7 * toy_graph.num_entities * 12  # room for 7 queries per block
    small = evaluate(model, toy_graph, "test", block_bytes=budget)
    assert len(shapes) > 2 and max(rows * cols * 12 for rows, cols in shapes) <= budget
    assert max(rows for rows, _ in shapes) == 7  # full blocks of 7 queries, a shorter last one per side
    for key in ("mrr", "hits@1", "hits@3", "hits@10", "mean_rank"):
        assert abs(small[key] - whole[key]) < 1e-12, key
