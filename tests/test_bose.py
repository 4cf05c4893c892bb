"""Bose & Hamilton's filters as their code builds them: batch norm at the end of each filter (its module
against torch's, its hand-written passes against autograd), the [s] and [a] variants, mean and sum
composition, and runs saved before the filters had batch norm.

The fused training step against the autograd step, and saved runs reloading with identical scores, are
in ``tests/test_debias.py``; the whole training with and without the fused step in ``tests/test_kernels.py``.
"""
from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kgcore.data.datasets import DataSource
from kgcore.errors import SpecError
from kgcore.models import mlp
from kgcore.models.adversaries import AttributeFilter
from kgcore.runs import load_run
from kgcore.training.loop import TrainConfig

from .factories import fit, untrained_model
from .synthetic import SPEC
from .debias_worlds import two_attribute_graph


def _randomise_norm(norm: nn.BatchNorm1d, seed: int = 0) -> None:
    """Weights and running statistics away from their initial 1 and 0, so every term of the passes shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(norm.num_features, generator=g) + 0.5)
        norm.bias.copy_(torch.randn(norm.num_features, generator=g))
        norm.running_mean.copy_(torch.randn(norm.num_features, generator=g))
        norm.running_var.copy_(torch.rand(norm.num_features, generator=g) + 0.5)


@pytest.mark.parametrize("training", [True, False])
def test_filter_is_their_network(training):
    """Linear(d, 2d), LeakyReLU, Linear(2d, d), LeakyReLU, BatchNorm1d(d) as torch's modules compute it:
    batch statistics while training (updating the running ones), running statistics at evaluation."""
    torch.manual_seed(0)
    ours = AttributeFilter(8)
    _randomise_norm(ours.norm)
    theirs = nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(), nn.Linear(16, 8), nn.LeakyReLU(), nn.BatchNorm1d(8))
    theirs.load_state_dict({"0.weight": ours.w1.weight, "0.bias": ours.w1.bias, "2.weight": ours.w2.weight,
                            "2.bias": ours.w2.bias, **{f"4.{k}": v for k, v in ours.norm.state_dict().items()}})
    ours.train(training), theirs.train(training)
    x = torch.randn(30, 8, requires_grad=True)
    out_ours, out_theirs = ours(x), theirs(x)
    torch.testing.assert_close(out_ours, out_theirs)
    # The same gradients, for the input (a person's vector moved by the bias measure) and every parameter.
    upstream = torch.randn(30, 8)
    grads_ours = torch.autograd.grad(out_ours, [x, *ours.parameters()], upstream)
    grads_theirs = torch.autograd.grad(out_theirs, [x, *theirs.parameters()], upstream)
    for got, expected in zip(grads_ours, grads_theirs):
        torch.testing.assert_close(got, expected)
    for name, buffer in ours.norm.named_buffers():
        torch.testing.assert_close(buffer, theirs[4].get_buffer(name), msg=name)
    assert int(ours.norm.num_batches_tracked) == int(training)
    assert [name for name, _ in AttributeFilter(8, norm=False).named_parameters()] == \
        ["w1.weight", "w1.bias", "w2.weight", "w2.bias"]


def test_a_single_person_filtered_while_training_uses_the_running_statistics():
    torch.manual_seed(0)
    network = AttributeFilter(6)
    _randomise_norm(network.norm)
    x = torch.randn(1, 6)
    expected = network.eval()(x)
    network.train()
    torch.testing.assert_close(network(x), expected)
    outputs = mlp.forward(network.stack(), x)
    torch.testing.assert_close(outputs[-1], expected)
    assert int(network.norm.num_batches_tracked) == 0


@pytest.mark.parametrize("kernel", [True, False])
@pytest.mark.parametrize("mode", ["batch", "running", "one row", "cumulative", "activated", "no affine"])
def test_hand_written_batch_norm_equals_autograd(monkeypatch, kernel, mode):
    """``kgcore.models.mlp`` through Linear, BatchNorm1d (and a leaky ReLU after it): outputs, running
    statistics, and the gradients of input, weights and biases (added to those already there) as autograd
    gives them; with ``input_grad`` False no input gradient, the parameters' still added."""
    monkeypatch.setattr(mlp, "AVAILABLE", kernel and mlp.AVAILABLE)
    torch.manual_seed(1)
    rows = 1 if mode == "one row" else 40
    norm = nn.BatchNorm1d(12, momentum=None if mode == "cumulative" else 0.1, affine=mode != "no affine")
    if mode != "no affine":
        _randomise_norm(norm)
    norm.train(mode != "running")
    layers = [(nn.Linear(7, 12), False), (norm, mode == "activated")]
    modules = nn.ModuleList([layer for layer, _ in layers])
    reference = copy.deepcopy(modules)
    x, upstream = torch.randn(rows, 7), torch.randn(rows, 12)
    earlier = [torch.randn_like(p) for p in modules.parameters()]
    for p, g in zip(modules.parameters(), earlier):
        p.grad = g.clone()

    outputs = mlp.forward(layers, x)
    x_grad = mlp.backward(layers, x, outputs, upstream.clone())
    free = x.clone().requires_grad_(True)
    hidden = reference[0](free)
    if mode == "one row":  # as AttributeFilter does: torch's module refuses one row while training
        out = F.batch_norm(hidden, reference[1].running_mean, reference[1].running_var, reference[1].weight,
                           reference[1].bias, False, 0.0, reference[1].eps)
    else:
        out = reference[1](hidden)
    if mode == "activated":
        out = F.leaky_relu(out)
    out.backward(upstream)

    torch.testing.assert_close(outputs[-1], out.detach())
    torch.testing.assert_close(x_grad, free.grad, rtol=1e-5, atol=1e-5)
    for mine, before, p in zip(modules.parameters(), earlier, reference.parameters(), strict=True):
        torch.testing.assert_close(mine.grad, before + p.grad, rtol=1e-5, atol=1e-5)
    for (name, mine), theirs in zip(modules.named_buffers(), reference.buffers(), strict=True):
        torch.testing.assert_close(mine, theirs, msg=name)

    # A stack that starts with the norm, without the input's gradient: its parameters' still come.
    for p in modules.parameters():
        p.grad = None
    stack = [(norm, mode == "activated")]
    trace = mlp.forward(stack, hidden.detach())
    assert mlp.backward(stack, hidden.detach(), trace, upstream.clone(), input_grad=False) is None
    for mine, theirs in zip(norm.parameters(), reference[1].parameters(), strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-5, atol=1e-5)


def test_training_with_and_without_the_fused_step_keeps_batch_norm_alike(toy_graph, monkeypatch):
    """Whole epochs of the fused step and of autograd's, filters with batch norm: the same state, with one
    update of the running statistics per step in both. (Their values part after a few steps, as two correct
    computations of this training do, see ``tests/test_kernels.py``; a step itself is compared in
    ``tests/test_debias.py``.)"""
    from kgcore import kernels
    from kgcore.training import fused

    if not kernels.AVAILABLE:
        pytest.skip("numba not installed")

    def run():
        return fit(toy_graph, "bose", 16, interaction="transe-l1", epochs=2, batch_size=64, lr=0.01,
                   debias=["gender"]).model.state_dict()

    fast = run()
    monkeypatch.setattr(fused, "ENABLED", False)
    slow = run()
    steps = 2 * -(-toy_graph.splits["train"].shape[0] // 64)
    assert fast.keys() == slow.keys()
    tracked = "filters.0.norm.num_batches_tracked"
    assert int(fast[tracked]) == int(slow[tracked]) == steps
    for name in ("filters.0.norm.running_mean", "filters.0.norm.running_var"):
        assert bool(torch.isfinite(fast[name]).all()) and fast[name].shape == slow[name].shape == (16,)


# ---------------------------------------------------------------------------------------------- [s] and [a]
def test_s_takes_one_attribute_and_always_applies_its_filter():
    """[s]: the filter of the one attribute measured, in every batch (no sampled S), so several debiased
    attributes (or a sampled S) are refused with a message naming the alternative."""
    graph = two_attribute_graph(120)
    with pytest.raises(SpecError, match="filters 'a'"):
        untrained_model(graph, "bose", 8, debias=["gender", "group"], options={"filters": "s"})
    with pytest.raises(SpecError, match="sample_mask"):
        untrained_model(graph, "bose", 8, debias=["gender"], options={"filters": "s", "sample_mask": "on"})
    model = untrained_model(graph, "bose", 8, debias=["group"], options={"filters": "s"})
    assert len(model.filters) == 1 and not model.sample_mask
    model.train()
    batch = graph.splits["train"][:64]
    for _ in range(20):
        model.auxiliary_step(batch)
        assert model.active_attributes() == [0]


def test_a_trains_every_filter_on_sampled_sets():
    """[a] with two attributes: S is sampled per batch (each subset turns up), both filters and both
    discriminators learn, and at evaluation both filters apply."""
    graph = two_attribute_graph(200)
    model = untrained_model(graph, "bose", 8, debias=["gender", "group"], options={"filters": "a"})
    assert model.sample_mask
    model.train()
    batch = graph.splits["train"][:64]
    drawn = set()
    for _ in range(60):
        model.auxiliary_step(batch)
        drawn.add(tuple(model.active_attributes()))
    assert drawn == {(), (0,), (1,), (0, 1)}
    before = copy.deepcopy(model.state_dict())
    trained = fit(graph, "bose", 8, epochs=2, debias=["gender", "group"], options={"filters": "a"}).model
    for prefix in ("filters.0.", "filters.1.", "discriminators.0.", "discriminators.1."):
        changed = [n for n, v in trained.state_dict().items() if n.startswith(prefix) and not torch.equal(v, before[n])]
        assert any(n.endswith("weight") for n in changed), prefix
    for f in trained.filters:  # each filter's running statistics followed the batches whose S held it
        assert 0 < int(f.norm.num_batches_tracked)
    trained.eval()
    assert trained.active_attributes() == [0, 1]


@pytest.mark.parametrize("compose", ["mean", "sum"])
def test_composition_is_the_mean_or_the_sum_of_the_filters(compose):
    graph = two_attribute_graph(120)
    model = untrained_model(graph, "bose", 8, debias=["gender", "group"], options={"compose": compose})
    for f in model.filters:
        _randomise_norm(f.norm, seed=len(compose))
    model.eval()
    people = graph.people[:10]
    emb = model.entity.weight[people]
    with torch.no_grad():
        total = model.filters[0](emb) + model.filters[1](emb)
        torch.testing.assert_close(model.entity_vectors(people), total / 2 if compose == "mean" else total)
        model.train()
        model._mask = [1]  # a single filter is itself under either composition
        torch.testing.assert_close(model.represent(emb, people), model.filters[1](emb))


# ---------------------------------------------------------------------------------------------- saved runs
def test_a_run_saved_before_filter_norm_loads_and_scores_as_saved(toy_dir, toy_graph, tmp_path):
    """A run whose config and model state predate ``filter_norm``, ``filters`` and ``compose`` (filters
    without batch norm, no such keys saved) loads as filters without batch norm, with identical scores;
    a new run records its setting and keeps its batch norm."""
    source = DataSource(data_dir=str(toy_dir), spec=SPEC)
    trained = fit(toy_graph, "bose", 8, epochs=1, debias=["gender"], options={"filter_norm": "none"})
    folder = trained.save(tmp_path / "old", source)
    config = json.loads((folder / "config.json").read_text())
    config["model"]["options"] = {}
    for key in ("filter_norm", "filters", "compose"):
        del config["model_state"][key]
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "manifest.json").unlink()  # runs of that time had no manifest
    run = load_run(folder, graph=toy_graph)
    assert run.model.filter_norm == "none" and all(f.norm is None for f in run.model.filters)
    model = trained.model.eval()
    h, r, _ = toy_graph.splits["test"].T
    with torch.no_grad():
        assert torch.equal(run.model.score_tails(h, r), model.score_tails(h, r))

    new = fit(toy_graph, "bose", 8, epochs=1, debias=["gender"]).save(tmp_path / "new", source)
    assert json.loads((new / "config.json").read_text())["model_state"]["filter_norm"] == "batch"
    reloaded = load_run(new, graph=toy_graph)
    assert all(f.norm is not None for f in reloaded.model.filters)
    assert int(reloaded.model.filters[0].norm.num_batches_tracked) > 0  # the running statistics were saved


# ---------------------------------------------------------------------------------------------- training steps
def test_bose_composes_several_attributes():
    """Two attributes (one stored value -> person): S is sampled per batch, C(u, S) averages the chosen
    filters, and at evaluation both filters apply."""
    graph = two_attribute_graph(200)
    trained = fit(graph, epochs=3, model="bose", debias=["gender", "group"])
    model, result = trained.model, trained.result
    assert model.sample_mask
    assert {"disc_acc_gender", "disc_acc_group"} <= set(result.history[-1].extras)
    model.eval()
    people = graph.people[:10]
    emb = model.entity.weight[people]
    expected = (model.filters[0](emb) + model.filters[1](emb)) / 2
    torch.testing.assert_close(model.entity_vectors(people), expected)
    model.train()
    model._mask = [1]  # as if the batch had drawn S = {group}
    torch.testing.assert_close(model.represent(emb, people), model.filters[1](emb))


@pytest.mark.parametrize("kernel", [True, False])
def test_hand_written_passes_equal_autograd(monkeypatch, kernel):
    """``kgcore.models.mlp`` (numba's activation pass, or torch's) gives the filters' and discriminators'
    outputs and every gradient autograd gives: input, weights and biases, added to gradients already
    there, and none for the input when not asked."""
    from kgcore.models import mlp
    from kgcore.models.bose import AttributeDiscriminator, AttributeFilter

    monkeypatch.setattr(mlp, "AVAILABLE", kernel and mlp.AVAILABLE)
    torch.manual_seed(0)
    for network in (AttributeFilter(12), AttributeDiscriminator(12, 3)):
        x = torch.randn(40, 12)
        x[:5] = 0.0  # with a zero first bias: pre-activations exactly 0, where leaky ReLU's slope applies
        with torch.no_grad():
            network.stack()[0][0].bias[:6] = 0.0
        upstream = torch.randn(40, 3 if isinstance(network, AttributeDiscriminator) else 12)
        earlier = [torch.randn_like(p) for p in network.parameters()]
        for p, g in zip(network.parameters(), earlier):
            p.grad = g.clone()
        outputs = mlp.forward(network.stack(), x)
        x_grad = mlp.backward(network.stack(), x, outputs, upstream.clone())
        ours = [p.grad.clone() for p in network.parameters()]
        for p in network.parameters():
            p.grad = None
        free = x.clone().requires_grad_(True)
        expected = network(free)
        expected.backward(upstream)
        torch.testing.assert_close(outputs[-1], expected.detach())
        torch.testing.assert_close(x_grad, free.grad, rtol=1e-5, atol=1e-6)
        for mine, before, p in zip(ours, earlier, network.parameters(), strict=True):
            torch.testing.assert_close(mine, before + p.grad, rtol=1e-5, atol=1e-5)
        for p in network.parameters():
            p.grad = None
        assert mlp.backward(network.stack(), x, outputs, upstream.clone(), input_grad=False) is None
        torch.testing.assert_close(network.stack()[0][0].weight.grad, ours[0] - earlier[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["ce", "l1"])
def test_adversary_loss_and_its_gradient(kind):
    """Both forms of L_D and their gradients with respect to the logits against autograd on the
    definitions: weighted mean of -log p_y, or of 1 - p_y."""
    from kgcore.models.bose import adversary_loss

    torch.manual_seed(0)
    logits, labels = torch.randn(30, 4) * 3, torch.randint(0, 4, (30,))
    weights = torch.randint(1, 4, (30,)).to(torch.float32)
    loss, grad = adversary_loss(logits, labels, kind, weights)
    free = logits.clone().requires_grad_(True)
    p_true = torch.softmax(free, 1)[torch.arange(30), labels]
    per_row = -torch.log(p_true) if kind == "ce" else 1.0 - p_true
    expected = (per_row * weights).sum() / weights.sum()
    expected.backward()
    assert float(loss) == pytest.approx(float(expected.detach()), rel=1e-6)
    torch.testing.assert_close(grad, free.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mask", [[0, 1], [1]])
@pytest.mark.parametrize("adversary, compose, filter_norm", [("ce", "mean", "batch"), ("l1", "mean", "batch"),
                                                             ("ce", "sum", "batch"), ("ce", "mean", "none")])
def test_bose_fused_step_equals_the_autograd_step(mask, adversary, compose, filter_norm):
    """``fused_step`` (ranking gradient from the kernel on the filtered vectors, filters and discriminators
    by hand) gives the general path's loss, adversarial term, entity, relation and filter gradients (batch
    norm's included), running statistics and the same discriminator step, for two attributes (one stored
    value -> person), S of one or both, filters averaged or summed."""
    import copy

    from kgcore import kernels
    from kgcore.training.sampling import NegativeSampler
    from kgcore.training.losses import ranking_loss

    if not kernels.AVAILABLE:
        pytest.skip("numba not installed")
    graph = two_attribute_graph(120)
    fused_model = untrained_model(graph, "bose", 12, interaction="transe-l1", debias=["gender", "group"],
                                  options={"adversary_loss": adversary, "gamma": 2.0, "compose": compose,
                                           "filter_norm": filter_norm})
    with torch.no_grad():  # batch norm's weights away from 1 and 0, so that every term of its passes counts
        for f in fused_model.filters:
            if f.norm is not None:
                f.norm.weight.uniform_(0.5, 1.5), f.norm.bias.normal_()
    reference_model = copy.deepcopy(fused_model)
    batch = graph.splits["train"][:300]
    neg, _ = NegativeSampler(graph.num_entities, 2).sample(batch, torch.Generator().manual_seed(1))
    results = []
    for model, fused in ((fused_model, True), (reference_model, False)):
        model.train()
        model.auxiliary_step(batch)
        model._mask = list(mask)  # the batch's S, the same for both
        if fused:
            value, extra = model.fused_step(batch, neg, 1.0)
        else:
            both = torch.cat([batch, neg.reshape(-1, 3)])
            scores = model.score_triples(both[:, 0], both[:, 1], both[:, 2])
            loss = ranking_loss(scores[:300], scores[300:].view(300, 2), TrainConfig(margin=1.0))
            extra = model.extra_loss(batch)
            (loss + sum(extra.values())).backward()
            value = float(loss.detach())
        entity, relation = (torch.zeros_like(t.weight).index_add_(0, *t.take_gradient())
                            for t in (model.entity, model.relation))
        results.append((value, {k: float(v.detach()) for k, v in extra.items()}, entity, relation,
                        [p.grad.clone() for p in model.filters.parameters() if p.grad is not None],
                        [p.detach().clone() for p in model.discriminators.parameters()],
                        [b.clone() for b in model.filters.buffers()]))
    (value, extra, entity, relation, filter_grads, discs, stats), reference = results[0], results[1]
    assert value == pytest.approx(reference[0], rel=1e-5)
    assert set(extra) == set(reference[1]) == {"adversary"}
    assert extra["adversary"] == pytest.approx(reference[1]["adversary"], rel=1e-5)
    assert float(entity.abs().sum()) > 0 and len(filter_grads) == (6 if filter_norm == "batch" else 4) * len(mask)
    torch.testing.assert_close(entity, reference[2], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(relation, reference[3], rtol=1e-4, atol=1e-6)
    for ours, theirs in zip(filter_grads, reference[4], strict=True):
        # Batch norm leaves the bias before it only the leaky ReLU's negative side: a gradient that is
        # mostly cancellation, compared to the tensor's scale.
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6 + 1e-4 * float(theirs.abs().max()))
    for ours, theirs in zip(discs, reference[5], strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(stats, reference[6], strict=True):  # the filters of S updated theirs, once
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    assert [int(f.norm.num_batches_tracked) for f in fused_model.filters if f.norm is not None] == \
        ([int(k in mask) for k in range(2)] if filter_norm == "batch" else [])
