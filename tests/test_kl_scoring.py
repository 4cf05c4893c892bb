"""The KL model's scoring computed more than one way gives one answer: attribute vectors added as scores of
their own equal rescoring moved heads (loss and gradients), the twins of every attribute in one pass equal
each attribute's own cross-entropy, the fused KL step equals the autograd step, and every scoring path
(single triples, all tails, all heads, free heads, shared negatives) agrees."""
from __future__ import annotations

import pytest
import torch

from kgcore.data.graph import KnowledgeGraph
from kgcore.data.spec import Attribute, DatasetSpec
from kgcore.training.loop import TrainConfig

from .debias_worlds import PROFESSIONS, held_out_splits, held_out_world, two_attribute_graph
from .factories import untrained_model
from .synthetic import GENDER, GROUP, PROFESSION, group_triples


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return held_out_world(tmp_path_factory.mktemp("kl-scoring"))


@pytest.mark.parametrize("attributes", [1, 2])
@pytest.mark.parametrize("interaction", ["transe-dot", "distmult", "transe-dot-reciprocal"])
def test_attribute_vectors_added_as_scores_equal_rescoring(world, interaction, attributes):
    """For scores affine in the head, the hooks add the attribute vectors' own scores instead of scoring the
    moved heads again: the training loss and every gradient are the same either way. With two attributes,
    professions whitelist one, the other or both, and friend_of one for every tail and the other for one tail."""
    if attributes == 1:
        graph, debias = world[1], ["gender"]
        whitelist = [[PROFESSION, "nun"], ["friend_of", "*"], [PROFESSION, "nurse"]]
    else:
        graph, debias = two_attribute_graph(120), ["gender", "group"]
        whitelist = [[PROFESSION, "nun", "gender"], [PROFESSION, "nurse"], [PROFESSION, "banker", "group"],
                     ["friend_of", "*", "group"], ["friend_of", "person3", "gender"]]
    model = untrained_model(graph, "kl", 16, interaction=interaction, debias=debias, options={"whitelist": whitelist})
    with torch.no_grad():
        for table in (model.entity.weight, model.relation.weight, model.attribute_vectors):
            table.normal_()
    batch = graph.splits["train"][:300]
    pool = torch.arange(0, graph.num_entities, 3)

    def loss_and_gradients():
        positives, negatives = model.score_against_pool(batch, pool)
        loss = (negatives.logsumexp(1) - positives).sum()
        loss.backward()
        entity, relation = model.entity.take_gradient(), model.relation.take_gradient()
        vectors = model.attribute_vectors.grad.clone()
        model.zero_grad(set_to_none=True)
        return loss.detach(), entity, relation, vectors

    added = loss_and_gradients()
    model.interaction.offset_relation = lambda r: None  # as for a distance: score the moved heads again
    rescored = loss_and_gradients()
    torch.testing.assert_close(added[0], rescored[0], rtol=1e-5, atol=1e-4)
    for (rows_a, grad_a), (rows_b, grad_b) in zip(added[1:3], rescored[1:3]):
        assert torch.equal(rows_a, rows_b)
        torch.testing.assert_close(grad_a, grad_b, rtol=1e-4, atol=1e-4)
    assert float(added[3].abs().sum()) > 0
    torch.testing.assert_close(added[3], rescored[3], rtol=1e-4, atol=1e-4)


def test_attribute_offsets_sum_the_vectors_of_every_value_held():
    """Each person's offset from each attribute is the sum of the vectors of the values they hold, also for
    people with two values of an attribute or none; entities that are not people get zero. A person's whole
    offset is the sum over the attributes that apply."""
    several = [("south", GROUP, "person1"), ("north", GROUP, "person1"), ("south", GROUP, "person2")]
    splits, _ = held_out_splits(120, extra=group_triples(120, {p: "north" for p in PROFESSIONS}, loyalty=0.5) + several)
    spec = DatasetSpec(name="toy2", attributes=(Attribute("gender", GENDER), Attribute("group", GROUP, reversed=True)),
                       target=PROFESSION)
    graph = KnowledgeGraph(splits, spec=spec)
    model = untrained_model(graph, "kl", 8, interaction="transe-dot", debias=["gender", "group"],
                            options={"whitelist": [["friend_of", "*"]]})
    with torch.no_grad():
        model.attribute_vectors.normal_()
    ids = torch.arange(graph.num_entities)
    expected = []
    for k, table in enumerate(graph.attribute_table(a.name) for a in model.attributes):
        held = torch.zeros(graph.num_entities, table.value_ids.numel())  # one vector per value of the table
        held[table.person_ids] = table.membership.float()
        expected.append(held @ model.attribute_vectors.detach().split(model.attribute_vector_sizes)[k])
    group = graph.attribute_table("group")
    assert int(group.membership[group.person_ids == graph.entity_to_id["person1"]].sum()) == 2
    with torch.no_grad():
        offsets = model.attribute_offsets(ids)
        whole, group_only = model.person_offsets(ids), model.person_offsets(ids, torch.tensor([[False, True]]))
    torch.testing.assert_close(offsets, torch.stack(expected, 1))
    assert float(offsets[graph.entity_to_id["nun"]].abs().sum()) == 0
    torch.testing.assert_close(whole, expected[0] + expected[1])
    torch.testing.assert_close(group_only, expected[1])


@pytest.mark.parametrize("p_norm", [1, 2])
def test_twin_loss_equals_each_attributes_own_cross_entropy(p_norm):
    """The twins of every attribute in one pass (one of them stored value -> person) give each attribute's
    cross-entropy of the recorded value against its own values, with the person's attribute vectors added."""
    graph = two_attribute_graph(120)
    model = untrained_model(graph, "kl", 16, interaction=f"transe-l{p_norm}", debias=["gender", "group"],
                            options={"whitelist": [[PROFESSION, "nun"], ["friend_of", "*"]]})
    with torch.no_grad():
        model.attribute_vectors.normal_()
    batch = graph.splits["train"]
    terms = model.twin_loss(batch)
    assert set(terms) == {"twin_gender", "twin_group"}
    for k, attribute in enumerate(model.attributes):
        rows = batch[:, 1] == attribute.relation_id
        people, values = (batch[rows, 2], batch[rows, 0]) if attribute.reversed else (batch[rows, 0], batch[rows, 2])
        candidates = getattr(model, f"values_{k}")
        twin = model.twin_relation.weight[k:k + 1]
        person = model.entity.weight[people] + model.person_offsets(people)
        scores = (model.interaction.score_heads(twin, person, model.entity.weight[candidates]) if attribute.reversed
                  else model.interaction.score_tails(person, twin, model.entity.weight[candidates]))
        target = (values.unsqueeze(1) == candidates).float().argmax(1)
        expected = torch.nn.functional.cross_entropy(scores, target)
        torch.testing.assert_close(terms[f"twin_{attribute.name}"], expected, rtol=1e-5, atol=1e-6)
    assert model.twin_loss(batch[batch[:, 1] == graph.relation_id(PROFESSION)]) == {}


@pytest.mark.parametrize("group_weight", [0.5, 0.0])
@pytest.mark.parametrize("direction", ["predicted||target", "target||predicted"])
def test_fused_kl_step_equals_the_autograd_step(direction, group_weight):
    """The KL model's fused step (ranking loss and KL terms in one kernel, no autograd) gives the same loss,
    KL values and per-entity and per-relation gradients as the general path (scores, ranking loss and
    ``extra_loss`` through autograd), for two attributes at once with their own weights, one stored
    value -> person and with three values against gender's two (padded in the kernel); a zero weight
    leaves its attribute out."""
    from kgcore.training import fused
    from kgcore import kernels
    from kgcore.training.sampling import NegativeSampler
    from kgcore.training.losses import ranking_loss

    if not kernels.AVAILABLE:
        pytest.skip("numba not installed")
    names = ["north", "south", "east"]
    graph = two_attribute_graph(120, groups={p: names[i % 3] for i, p in enumerate(PROFESSIONS)})
    assert graph.attribute_table("group").value_ids.numel() == 3
    model = untrained_model(graph, "kl", 12, interaction="transe-l1", debias=["gender", "group"],
                            options={"kl_weight": {"*": 1.5, "group": group_weight}, "kl_direction": direction})
    model.train()
    pos = graph.splits["train"][:200]
    neg, _ = NegativeSampler(graph.num_entities, 2).sample(pos, torch.Generator().manual_seed(1))

    def dense(table):
        out = torch.zeros_like(table.weight)
        taken = table.take_gradient()
        if taken is not None:
            out.index_add_(0, *taken)
        return out

    assert fused.applies(model, TrainConfig(), torch.device("cpu"))
    loss, terms = model.fused_step(pos, neg, 1.0)
    fused_entity, fused_relation = dense(model.entity), dense(model.relation)
    both = torch.cat([pos, neg.reshape(-1, 3)])
    scores = model.score_triples(both[:, 0], both[:, 1], both[:, 2])
    reference_loss = ranking_loss(scores[:pos.shape[0]], scores[pos.shape[0]:].view(neg.shape[:2]), TrainConfig())
    reference = model.extra_loss(pos)
    (reference_loss + sum(reference.values())).backward()
    assert set(terms) == set(reference) == ({"kl_gender", "kl_group"} if group_weight else {"kl_gender"})
    assert loss == pytest.approx(float(reference_loss.detach()), rel=1e-6)
    for name in reference:
        assert float(terms[name]) == pytest.approx(float(reference[name].detach()), rel=1e-5)
    reference_entity, reference_relation = dense(model.entity), dense(model.relation)
    values = torch.cat([graph.attribute_table(a).value_ids for a in ("gender", "group")])
    assert float(fused_entity[values].abs().sum()) > 0
    torch.testing.assert_close(fused_entity, reference_entity, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(fused_relation, reference_relation, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("interaction", ["transe-l1", "transe-l2", "transe-dot", "distmult"])
@pytest.mark.parametrize("whitelist", [[[PROFESSION, "nun"], ["friend_of", "*"]], [[GENDER, "*"]],
                                       [[GENDER, "female"]], [[PROFESSION, "*"], [PROFESSION, "nun"]]])
def test_every_kl_scoring_path_agrees(world, whitelist, interaction):
    """score_triples, score_tails, score_heads, score_head_embeddings and score_against_pool give the same
    score to every training triple, whitelisted or not; the KL term's fast path equals the hooks' path."""
    _, graph, _ = world
    model = untrained_model(graph, "kl", 16, interaction=interaction, debias=["gender"],
                            options={"whitelist": whitelist})
    with torch.no_grad():
        model.attribute_vectors.normal_()
        model.entity.weight.normal_()  # distinct scores (the dot product's initial vectors are near zero)
        model.relation.weight.normal_()
    model.eval()
    h, r, t = graph.splits["train"].T.contiguous()
    assert 0 < int(model.whitelisted_attributes(r, t).any(1).sum()) < len(r)
    with torch.no_grad():
        expected = model.score_triples(h, r, t)
        tails = t.unique()
        for scores in (model.score_tails(h, r).gather(1, t[:, None]), model.score_heads(r, t).gather(1, h[:, None]),
                       model.score_tails(h, r, candidates=tails).gather(1, torch.searchsorted(tails, t)[:, None])):
            torch.testing.assert_close(scores.squeeze(1), expected, rtol=1e-5, atol=1e-5)
        # Training's shared negatives: the pool's scores are the candidates' scores, the positives' their own.
        pool = torch.cat([t[:40], h[:40], torch.arange(0, graph.num_entities, 7)]).unique()
        positives, negatives = model.score_against_pool(graph.splits["train"], pool)
        torch.testing.assert_close(positives, expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(negatives, torch.cat([model.score_tails(h, r, candidates=pool),
                                                         model.score_heads(r, t, candidates=pool)], 1),
                                   rtol=1e-5, atol=1e-5)
    some = torch.arange(0, len(h), 37)
    free = model.entity.weight[h[some]].clone().requires_grad_(True)
    rows = torch.stack([model.score_head_embeddings(free[i:i + 1], int(r[j]), t[j:j + 1], heads=h[j:j + 1])[0, 0]
                        for i, j in enumerate(some.tolist())])
    torch.testing.assert_close(rows.detach(), expected[some], rtol=1e-5, atol=1e-5)
    rows.sum().backward()
    assert bool((free.grad.abs().sum(1) > 0).all())  # differentiable in the free head, adjusted or not
    model.train()
    batch = graph.splits["train"][:256]
    people = model.batch_people(batch)
    torch.testing.assert_close(model.extra_loss(batch)["kl_gender"].detach(),
                               model.kl_to_target(people, 0).mean().detach())
