"""The numba fast paths agree with their torch twins (and the tie rule of realistic ranks holds)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kgcore import kernels
from kgcore.training.optimizers import DenseAdam, RowOptimizer
from kgcore.models.embedding import RowEmbedding, unit_norm
from kgcore.training.evaluate import realistic_ranks
from kgcore.models.interactions.transe import TransEL1, distance_all
from kgcore.models.kl import kl_divergence
from kgcore.models.kl_kernel import kl_loss_l1

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba not installed")


def test_l1_kernel_matches_cdist():
    g = torch.Generator().manual_seed(0)
    queries, candidates = torch.randn(13, 20, generator=g), torch.randn(57, 20, generator=g)
    with torch.no_grad():
        fast = distance_all(queries, candidates, 1)
    reference = -torch.cdist(queries, candidates, p=1)
    assert torch.allclose(fast, reference, atol=1e-4)


def test_l1_under_autograd_stays_differentiable():
    queries = torch.randn(3, 5, requires_grad=True)
    scores = distance_all(queries, torch.randn(4, 5), 1)
    scores.sum().backward()
    assert queries.grad is not None and queries.grad.abs().sum() > 0


def test_ranks_count_ties_as_the_mean_rank():
    scores = torch.tensor([[0.5, 0.5, 0.5, 0.1], [3.0, 1.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    targets = torch.tensor([0, 1, 3])
    # Row 0: none better, two others tied -> 1 + 0 + 2/2 = 2; row 1: two better -> 3;
    # row 2: all four tied -> 1 + 3/2 = 2.5 (the expected rank of a random guess).
    expected = torch.tensor([2.0, 3.0, 2.5], dtype=torch.double)
    assert torch.equal(realistic_ranks(scores, targets), expected)
    kernels_off = scores.double()  # the torch path (kernel only handles float32)
    assert torch.equal(realistic_ranks(kernels_off, targets), expected)


@pytest.mark.parametrize("kind", ["adam", "adagrad", "sgd"])
def test_fused_row_optimizer_matches_torch_path(kind, monkeypatch):
    def run(fast: bool) -> torch.Tensor:
        torch.manual_seed(0)
        table = RowEmbedding(50, 8, constraint=unit_norm)
        torch.nn.init.normal_(table.weight)
        optimizer = RowOptimizer([table], kind, lr=0.05)
        monkeypatch.setattr(RowOptimizer, "_fast_path", staticmethod(lambda t: fast))
        g = torch.Generator().manual_seed(1)
        for _ in range(5):
            ids = torch.randint(50, (30,), generator=g)  # duplicates must be summed
            target = torch.randn(30, 8, generator=g)
            ((table(ids) - target) ** 2).sum().backward()
            optimizer.step()
        return table.weight.detach().clone()

    assert torch.allclose(run(True), run(False), atol=1e-5)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_dense_adam_matches_torch_adam(amsgrad):
    """Same weights as ``torch.optim.Adam`` after steps where one parameter sometimes has no gradient
    (Bose's discriminators outside the batch's sampled S): its step count and moments must not move."""
    def run(make) -> list[torch.Tensor]:
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.LeakyReLU(), torch.nn.Linear(12, 3))
        optimizer = make(list(net.parameters()))
        g = torch.Generator().manual_seed(1)
        for step in range(12):
            optimizer.zero_grad(set_to_none=True)
            x, y = torch.randn(20, 6, generator=g), torch.randint(3, (20,), generator=g)
            torch.nn.functional.cross_entropy(net(x), y).backward()
            if step % 3 == 1:
                net[2].bias.grad = None
            optimizer.step()
        return [p.detach().clone() for p in net.parameters()]

    ours = run(lambda params: DenseAdam(params, lr=0.01, amsgrad=amsgrad))
    reference = run(lambda params: torch.optim.Adam(params, lr=0.01, amsgrad=amsgrad))
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert isinstance(DenseAdam.for_parameters([torch.nn.Parameter(torch.zeros(2))], 0.1), DenseAdam)
    assert isinstance(DenseAdam.for_parameters([torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))], 0.1),
                      torch.optim.Adam)


def test_l2_gradient_is_finite_when_a_candidate_equals_the_query():
    query = torch.tensor([[0.5, -0.5]], requires_grad=True)
    candidates = torch.tensor([[0.5, -0.5], [1.0, 1.0]], requires_grad=True)
    distance_all(query, candidates, 2).sum().backward()
    assert torch.isfinite(query.grad).all() and torch.isfinite(candidates.grad).all()


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba not installed")
def test_parallel_kernels_leave_torch_thread_count_alone():
    """numba's OpenMP region resets the shared runtime; evaluation inside 1-thread training must not undo it."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        query, candidates = torch.rand(9, 16), torch.rand(50, 16)
        scores = distance_all(query, candidates, 1)
        realistic_ranks(scores, torch.zeros(9, dtype=torch.long))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba not installed")
@pytest.mark.parametrize("num_negatives", [1, 3])
def test_fused_transe_margin_step_gives_autograds_loss_and_gradients(num_negatives):
    """The fused L1 margin step leaves the same summed row gradients as autograd (ties included: a negative
    equal to its positive puts the hinge exactly at the margin, a zero coordinate has subgradient 0)."""
    from kgcore.training import fused
    from kgcore.data.graph import KnowledgeGraph
    from kgcore.training.sampling import NegativeSampler
    from kgcore.training.loop import TrainConfig
    from kgcore.training.losses import ranking_loss

    from .factories import untrained_model

    rng = np.random.default_rng(0)
    triples = [(f"e{a}", f"r{b}", f"e{c}") for a, b, c in zip(rng.integers(0, 40, 300), rng.integers(0, 4, 300),
                                                               rng.integers(0, 40, 300))]
    graph = KnowledgeGraph({"train": triples})
    model = untrained_model(graph, dim=8, interaction="transe-l1")
    pos = graph.splits["train"][:50]
    neg, _ = NegativeSampler(graph.num_entities, num_negatives).sample(pos, torch.Generator().manual_seed(1))
    neg[0, 0] = pos[0]
    with torch.no_grad():
        model.entity.weight[pos[1, 0]] = model.entity.weight[pos[1, 2]] - model.relation.weight[pos[1, 1]]
    loss = fused.margin_l1_step(model, pos, neg, 1.0)
    fused_grads = model.entity.take_gradient(), model.relation.take_gradient()
    model.train()
    both = torch.cat([pos, neg.reshape(-1, 3)])
    scores = model.score_triples(both[:, 0], both[:, 1], both[:, 2])
    expected = ranking_loss(scores[:50], scores[50:].view(50, num_negatives), TrainConfig())
    expected.backward()
    assert loss == pytest.approx(float(expected.detach()), rel=1e-6)
    for (rows, grads), (rows_ref, grads_ref) in zip(fused_grads, (model.entity.take_gradient(),
                                                                   model.relation.take_gradient())):
        assert torch.equal(rows, rows_ref)
        torch.testing.assert_close(grads, grads_ref, rtol=1e-6, atol=1e-7)


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba not installed")
@pytest.mark.parametrize("model_options", [{"model": "transe"}, {"model": "kl", "debias": ["gender"]},
                                           {"model": "bose", "debias": ["gender"], "options": {"filter_norm": "none"}},
                                           {"model": "bose", "debias": ["gender"],
                                            "options": {"adversary_loss": "l1", "d_steps": 2, "filter_norm": "none"}}])
def test_training_with_and_without_the_fused_step_agrees(toy_graph, monkeypatch, model_options):
    """TransE, the KL model (its KL term in the same kernel, see ``KLDebiased.fused_step``) and Bose &
    Hamilton's filters (``BoseHamilton.fused_step``: every weight, filters and discriminators too).

    Bose's filters run here without their batch norm: with it, two correct computations of the same
    training part within a few steps (the bias before the norm has a gradient that is zero but for
    rounding wherever the leaky ReLU is linear over the batch, and Adam turns that rounding into full
    steps), so the norm is compared step by step in ``tests/test_debias.py`` and over whole epochs, as far
    as it can be, in ``tests/test_bose.py``."""
    from kgcore.training import fused
    from kgcore.training.evaluate import evaluate
    from kgcore.training.loop import TrainConfig

    from .factories import fit, untrained_model

    def run():
        trained = fit(toy_graph, dim=16, interaction="transe-l1", epochs=5, batch_size=64, lr=0.01, **model_options)
        return trained.model, trained.result

    cpu = torch.device("cpu")
    assert fused.applies(untrained_model(toy_graph, dim=4, interaction="transe-l1", **model_options), TrainConfig(), cpu)
    assert not fused.applies(untrained_model(toy_graph, dim=4, interaction="transe-l2", **model_options), TrainConfig(), cpu)
    assert not fused.applies(untrained_model(toy_graph, dim=4, interaction="transe-l1", **model_options),
                             TrainConfig(loss="softplus"), cpu)
    fast_model, fast = run()
    monkeypatch.setattr(fused, "ENABLED", False)
    slow_model, slow = run()
    for a, b in zip(fast.history, slow.history):
        assert a.loss == pytest.approx(b.loss, rel=1e-4)
        assert a.extras == pytest.approx(b.extras, rel=1e-3, abs=1e-6)
    fast_weights, slow_weights = fast_model.state_dict(), slow_model.state_dict()
    assert fast_weights.keys() == slow_weights.keys()
    for name, weight in fast_weights.items():
        torch.testing.assert_close(weight, slow_weights[name], rtol=1e-4, atol=1e-5, msg=name)
    assert evaluate(fast_model, toy_graph, "test")["mrr"] == pytest.approx(evaluate(slow_model, toy_graph, "test")["mrr"], abs=1e-3)


@pytest.mark.parametrize("predicted_first", [True, False])
def test_fused_kl_kernel_matches_torch(predicted_first):
    torch.manual_seed(0)
    people, values, relation = torch.randn(60, 12), torch.randn(3, 12), torch.randn(12)
    log_target = torch.log(torch.tensor([0.5, 0.3, 0.2]))
    grads = []
    for fn in ("fused", "torch"):
        inputs = [x.clone().requires_grad_(True) for x in (people, values, relation)]
        if fn == "fused":
            loss = kl_loss_l1(inputs[0], inputs[1], inputs[2], -1.0, log_target, 0.7, predicted_first)
        else:
            scores = TransEL1().score_heads(inputs[2][None], inputs[0], inputs[1])  # S(v, r, person)
            loss = 0.7 * kl_divergence(scores, log_target, predicted_first).mean()
        loss.backward()
        grads.append((loss.detach(), *[x.grad for x in inputs]))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
