"""Real training on a small generated graph: the loss falls, link prediction beats chance, seeds repeat; every
loss trains, shared and filtered negatives do what they say, and early stopping keeps the best epoch."""
from __future__ import annotations

import math
import random

import pytest
import torch

from kgcore.data.graph import KnowledgeGraph
from kgcore.training.evaluate import evaluate
from kgcore.training.loop import train
from kgcore.training.sampling import NegativeSampler, TripleSet

from .factories import fit, train_config, trained_model, untrained_model


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


# ---------------------------------------------------------------------------------------------- losses
@pytest.mark.parametrize("training", [
    {"loss": "softplus", "num_negatives": 8},
    {"loss": "nssa", "num_negatives": 8},
    {"loss": "softmax", "num_negatives": 8},
    {"loss": "margin", "filtered_negatives": True},
], ids=["softplus", "nssa", "softmax", "margin-filtered"])
def test_each_loss_trains_transe_to_a_clearly_better_filtered_mrr(toy_graph, training):
    """Ten epochs with each loss (the autograd path: only the plain margin loss takes the fused kernel)
    lift the filtered test MRR far above the untrained model's (about 0.012 here, 0.10-0.17 trained)."""
    untrained = evaluate(untrained_model(toy_graph), toy_graph, "test")["mrr"]
    trained = fit(toy_graph, epochs=10, training=training)
    history = trained.result.history
    assert len(history) == 10 and history[-1].loss < 0.7 * history[0].loss, [r.loss for r in history]
    mrr = evaluate(trained.model, toy_graph, "test")["mrr"]
    assert mrr > 5 * untrained, (mrr, untrained)
    assert trained.result.best_valid_mrr is None and trained.result.best_epoch == 10  # no validation asked


# ---------------------------------------------------------------------------------------------- negatives
def test_shared_negatives_score_one_pool_per_batch_as_heads_and_tails_and_train(toy_graph):
    """negative_mode="shared": every batch draws one pool of ``num_negatives`` entities and scores it as the
    tail and the head of every positive (``score_against_pool``, the same scores as ``score_triples``,
    ``score_tails`` and ``score_heads``); trained that way TransE learns."""
    untrained = evaluate(untrained_model(toy_graph), toy_graph, "test")["mrr"]
    model = untrained_model(toy_graph)
    calls: list[tuple[int, torch.Tensor]] = []
    original = model.score_against_pool

    def recording(pos, pool):
        calls.append((pos.shape[0], pool.clone()))
        positives, negatives = original(pos, pool)
        if len(calls) == 1:  # the one-lookup scores equal the separate calls
            with torch.no_grad():
                torch.testing.assert_close(positives, model.score_triples(pos[:, 0], pos[:, 1], pos[:, 2]))
                expected = torch.cat([model.score_tails(pos[:, 0], pos[:, 1], candidates=pool),
                                      model.score_heads(pos[:, 1], pos[:, 2], candidates=pool)], 1)
                torch.testing.assert_close(negatives, expected)
        return positives, negatives

    model.score_against_pool = recording  # on this instance only
    config = train_config(epochs=10, loss="softmax", negative_mode="shared", num_negatives=32)
    result = train(model, toy_graph, config, progress=False)
    del model.score_against_pool
    n_train = toy_graph.splits["train"].shape[0]
    batches = math.ceil(n_train / config.batch_size)
    assert len(calls) == batches * 10
    assert sum(size for size, _ in calls[:batches]) == n_train  # every positive, once per epoch
    for _, pool in calls:
        assert pool.shape == (32,) and int(pool.min()) >= 0 and int(pool.max()) < toy_graph.num_entities
    assert len({tuple(pool.tolist()) for _, pool in calls}) == len(calls)  # a fresh pool per batch
    assert result.history[-1].loss < 0.7 * result.history[0].loss
    mrr = evaluate(model, toy_graph, "test")["mrr"]
    assert mrr > 5 * untrained, (mrr, untrained)


def test_batch_negatives_take_part_of_the_pool_from_the_batch(toy_graph):
    """batch_negatives: that many of each pool are the batch's own heads and tails (half each, heads first),
    the rest uniform; an entity frequent among the batch's tails comes up in the pool as often; 0 leaves the
    pools (and so the seeded training) exactly as before."""
    pools: list[tuple[torch.Tensor, torch.Tensor]] = []
    model = untrained_model(toy_graph)
    original = model.score_against_pool

    def recording(pos, pool):
        pools.append((pos.clone(), pool.clone()))
        return original(pos, pool)

    model.score_against_pool = recording
    config = train_config(epochs=2, loss="softmax", negative_mode="shared", num_negatives=32, batch_negatives=10)
    train(model, toy_graph, config, progress=False)
    for pos, pool in pools:
        assert pool.shape == (32,)
        heads, tails = pool[:5], pool[5:10]
        assert bool(torch.isin(heads, pos[:, 0]).all()) and bool(torch.isin(tails, pos[:, 2]).all())
    # Drawn in proportion to the batch: the batch's most common tail fills its share of the tail slots.
    tails = torch.cat([pos[:, 2] for pos, _ in pools])
    top = torch.mode(tails).values
    share_in_batches = float((tails == top).float().mean())
    share_in_pools = float(torch.cat([pool[5:10] for _, pool in pools]).eq(top).float().mean())
    assert share_in_pools == pytest.approx(share_in_batches, abs=0.1), (share_in_pools, share_in_batches)
    # batch_negatives 0 draws exactly the uniform pools of before.
    from kgcore.training.loop import negative_pool

    generator = torch.Generator().manual_seed(5)
    plain = negative_pool(pools[0][0], toy_graph.num_entities, train_config(negative_mode="shared", num_negatives=32),
                          generator)
    assert torch.equal(plain, torch.randint(toy_graph.num_entities, (32,), generator=torch.Generator().manual_seed(5)))


def _dense_graph() -> KnowledgeGraph:
    """12 entities, two relations, about half of all possible triples true: a corruption is often true."""
    rng = random.Random(0)
    names = [f"e{i}" for i in range(12)]
    return KnowledgeGraph({"train": [(h, r, t) for r in ("r", "s") for h in names for t in names
                                     if rng.random() < 0.5]})


def test_filtered_negatives_are_never_known_training_triples():
    graph = _dense_graph()
    positives = graph.splits["train"]
    known = TripleSet(positives, graph.num_entities, graph.num_relations)
    # TripleSet answers like a Python set, for every possible triple.
    every = torch.cartesian_prod(torch.arange(graph.num_entities), torch.arange(graph.num_relations),
                                 torch.arange(graph.num_entities))
    truth = set(map(tuple, positives.tolist()))
    assert known.contains(every).tolist() == [tuple(x) in truth for x in every.tolist()]
    plain, no_mask = NegativeSampler(graph.num_entities, 16).sample(positives, torch.Generator().manual_seed(0))
    assert no_mask is None
    assert float(known.contains(plain).float().mean()) > 0.3  # unfiltered: many "negatives" are true
    negatives, mask = NegativeSampler(graph.num_entities, 16, known).sample(positives,
                                                                            torch.Generator().manual_seed(0))
    assert negatives.shape == (positives.shape[0], 16, 3) and mask.shape == (positives.shape[0], 16)
    valid = mask.bool()
    assert not bool(known.contains(negatives)[valid].any())
    assert torch.equal(valid, ~known.contains(negatives))  # exactly the true leftovers are masked out
    assert float(valid.float().mean()) > 0.9  # redrawn up to five times: a few per cent stay true
    # Still corruptions of their own positive: same relation, the head or the tail kept.
    same = positives[:, None, :].expand_as(negatives)
    assert torch.equal(negatives[..., 1], same[..., 1])
    assert bool(((negatives[..., 0] == same[..., 0]) | (negatives[..., 2] == same[..., 2])).all())


def test_training_with_filtered_negatives_never_uses_a_training_triple_as_a_negative(monkeypatch):
    """The loop hands its sampler the training triples: every negative it trains on (mask 1) is false, where
    the same training without the filter uses true triples as negatives."""
    from kgcore.training import loop

    graph = _dense_graph()
    known = TripleSet(graph.splits["train"], graph.num_entities, graph.num_relations)
    drawn: list[tuple[torch.Tensor, torch.Tensor | None]] = []

    class RecordingSampler(NegativeSampler):
        def sample(self, positives, generator):
            negatives, mask = super().sample(positives, generator)
            drawn.append((negatives.clone(), None if mask is None else mask.clone()))
            return negatives, mask

    monkeypatch.setattr(loop, "NegativeSampler", RecordingSampler)
    fit(graph, dim=8, epochs=3, training={"filtered_negatives": True, "num_negatives": 4})
    batches = math.ceil(graph.splits["train"].shape[0] / 128)
    assert len(drawn) == 3 * batches
    for negatives, mask in drawn:
        assert mask is not None and not bool(known.contains(negatives)[mask.bool()].any())
    drawn.clear()
    fit(graph, dim=8, epochs=3, training={"num_negatives": 4})
    assert all(mask is None for _, mask in drawn)
    assert sum(int(known.contains(negatives).sum()) for negatives, _ in drawn) > 0


# ---------------------------------------------------------------------------------------------- early stopping
def test_early_stopping_stops_after_patience_checks_and_restores_the_best_epoch(toy_graph):
    """Validation every epoch, patience 3: on the toy graph the validation MRR peaks after a few epochs
    (epoch 6 of 40 at lr 0.02), training stops three checks later, and the model is the best epoch's:
    the same weights as training for exactly that many epochs, scoring the best validation MRR."""
    trained = fit(toy_graph, epochs=40, training={"eval_every": 1, "patience": 3})
    result = trained.result
    mrrs = [record.valid_mrr for record in result.history]
    assert None not in mrrs
    assert result.stopped_early and not result.cancelled and len(result.history) < 40
    assert result.best_valid_mrr == max(mrrs)
    assert result.best_epoch == 1 + mrrs.index(max(mrrs)) < len(result.history)
    assert len(result.history) == result.best_epoch + 3  # three checks without improvement, then stop
    again = evaluate(trained.model, toy_graph, "valid", max_triples=trained.config.eval_max_triples,
                     seed=trained.config.seed)["mrr"]
    assert again == result.best_valid_mrr
    best = trained_model(toy_graph, epochs=result.best_epoch)  # the same seed, without validation
    last = trained_model(toy_graph, epochs=len(result.history))
    assert torch.equal(trained.model.entity.weight, best.entity.weight)
    assert torch.equal(trained.model.relation.weight, best.relation.weight)
    assert not torch.equal(trained.model.entity.weight, last.entity.weight)


def test_validation_every_n_epochs_and_at_the_last_one(toy_graph):
    result = fit(toy_graph, epochs=5, training={"eval_every": 2, "patience": 10}).result
    assert [record.valid_mrr is not None for record in result.history] == [False, True, False, True, True]
    assert not result.stopped_early and len(result.history) == 5
    checked = {record.epoch: record.valid_mrr for record in result.history if record.valid_mrr is not None}
    assert result.best_valid_mrr == max(checked.values()) and checked[result.best_epoch] == result.best_valid_mrr
