"""The debiased models on small generated graphs, with real training: the KL term drives each person's
predicted gender towards the target, attribute leakage falls, whitelisted associations survive, Bose &
Hamilton's filters lower what a probe recovers, runs reload with identical scores, and the CLI trains them.

The graph: people with a gender, one profession (skewed by design, with an all-women ``nun``), a city and
a friend. A quarter of the people have their profession held out of training, so what the model predicts
for them comes only from what their embedding encodes (gender, when nothing removes it). Gender in these
data is recorded with two values.
"""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from kgcore.cli import main
from kgcore.data.datasets import DataSource
from kgcore.errors import CheckpointError, KGError, SpecError
from kgcore.data.graph import KnowledgeGraph
from kgcore.analysis.probe import leakage_probe, prediction_leakage
from kgcore.runs import load_run
from kgcore.data.spec import Attribute, DatasetSpec
from kgcore.training.loop import TrainConfig
from kgcore.data.triples import Triple

from .factories import fit, untrained_model
from .synthetic import GENDER, GROUP, PROFESSION, SPEC, group_triples, people_triples, write_graph

PROFESSIONS = {"nun": 1.0, "nurse": 0.9, "dancer": 0.8, "teacher": 0.5, "writer": 0.5, "banker": 0.15,
               "engineer": 0.1, "bishop": 0.0}
WHITELIST = [[PROFESSION, "nun"]]
N_PEOPLE = 400


def held_out_splits(n_people: int = N_PEOPLE, seed: int = 0, holdout: float = 0.25,
                    extra: list[Triple] | None = None) -> tuple[dict[str, list[Triple]], list[str]]:
    """``people_triples`` with the profession of a random quarter of the people moved to valid/test."""
    rng = random.Random(seed)
    held = sorted(f"person{i}" for i in range(n_people) if rng.random() < holdout)
    held_set = set(held)
    train_, rest = [], []
    for triple in people_triples(n_people, seed=seed, professions=PROFESSIONS) + (extra or []):
        (rest if triple[1] == PROFESSION and triple[0] in held_set else train_).append(triple)
    return {"train": train_, "valid": rest[::2], "test": rest[1::2]}, held


def two_attribute_graph(n_people: int, groups: dict[str, str] | None = None) -> KnowledgeGraph:
    """``held_out_splits`` plus a second attribute stored the other way round (group -> person), each
    profession's people mostly in one group (``groups``: profession -> group; default north or south)."""
    groups = groups or {p: ("north" if share > 0.5 else "south") for p, share in PROFESSIONS.items()}
    splits, _ = held_out_splits(n_people, extra=group_triples(n_people, groups, loyalty=0.9))
    spec = DatasetSpec(name="toy2", attributes=(Attribute("gender", GENDER), Attribute("group", GROUP, reversed=True)),
                       target=PROFESSION)
    return KnowledgeGraph(splits, spec=spec)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    splits, held = held_out_splits()
    folder = write_graph(tmp_path_factory.mktemp("debias"), splits)
    graph = KnowledgeGraph.from_folder(folder, spec=SPEC)
    return folder, graph, held


@pytest.fixture(scope="module")
def trained(world):
    _, graph, _ = world
    return {
        "transe": fit(graph),
        "kl": fit(graph, model="kl", debias=["gender"], options={"kl_weight": 3.0}),
        "kl_whitelist": fit(graph, model="kl", debias=["gender"], options={"kl_weight": 3.0, "whitelist": WHITELIST}),
        "bose": fit(graph, model="bose", debias=["gender"]),
    }


def gender_kl_to_uniform(model, graph) -> torch.Tensor:
    """KL(P(gender | person) || uniform) for every person with a recorded gender, from the model's scores."""
    table = graph.attribute_table("gender")
    people = table.person_ids[table.membership.any(1)]
    model.eval()
    with torch.no_grad():
        scores = model.score_tails(people, torch.full_like(people, table.relation_id), candidates=table.value_ids)
        log_p = torch.log_softmax(scores, 1)
    return (log_p.exp() * (log_p + np.log(table.num_values))).sum(1)


def profession_association(model, graph, held: list[str]) -> dict[str, float]:
    """For people whose profession was held out: mean over women minus mean over men of each profession's
    score, centred per person on the non-whitelisted professions (so raising ``nun`` for someone does
    not shift the others). What the model associates with the recorded gender, not what anyone is."""
    table, professions = graph.attribute_table("gender"), graph.target_table
    ids = torch.tensor([graph.entity_to_id[p] for p in held])
    label = dict(zip(table.person_ids.tolist(), table.single_label().tolist()))
    female = torch.tensor([label[int(i)] == table.value_labels.index("female") for i in ids])
    model.eval()
    with torch.no_grad():
        scores = model.score_tails(ids, torch.full_like(ids, professions.relation_id),
                                   candidates=professions.value_ids)
    ordinary = torch.tensor([name != "nun" for name in professions.value_labels])
    centred = scores - scores[:, ordinary].mean(1, keepdim=True)
    gap = centred[female].mean(0) - centred[~female].mean(0)
    return dict(zip(professions.value_labels, gap.tolist()))


def probe_auc(model, graph) -> float:
    return leakage_probe(model, graph, "gender", folds=5, seed=0, control=False)["roc_auc"]


# ---------------------------------------------------------------------------------------------- KL
def test_kl_drives_each_persons_gender_distribution_to_uniform(world, trained):
    _, graph, _ = world
    basic = gender_kl_to_uniform(trained["transe"].model, graph)
    debiased = gender_kl_to_uniform(trained["kl"].model, graph)
    # The paper's term moves only the people while the gender triples keep training the relation and the
    # values: the two pull against each other, so the divergence falls several-fold, not to zero.
    assert float(debiased.mean()) < 0.2 * float(basic.mean()), (float(debiased.mean()), float(basic.mean()))
    # Person by person, not only on average: almost everyone ends closer to uniform than TransE's typical person.
    assert float(debiased.quantile(0.9)) < float(basic.median()), (debiased.quantile(0.9), basic.median())
    history = trained["kl"].result.history
    assert history[-1].extras["kl_gender"] < history[0].extras["kl_gender"]


def test_kl_lowers_gender_leakage(world, trained):
    _, graph, _ = world
    basic, debiased = probe_auc(trained["transe"].model, graph), probe_auc(trained["kl"].model, graph)
    assert basic > 0.9, basic
    assert debiased < basic - 0.1, (debiased, basic)


def test_kl_removes_gender_profession_association(world, trained):
    _, graph, held = world
    basic = profession_association(trained["transe"].model, graph, held)
    debiased = profession_association(trained["kl"].model, graph, held)
    assert basic["nurse"] > 0.3 and basic["bishop"] < -0.3, basic  # the data's skew, learned by TransE
    assert max(abs(v) for v in debiased.values()) < 0.6 * max(abs(v) for v in basic.values()), (debiased, basic)


def test_whitelisted_profession_keeps_its_association(world, trained):
    _, graph, held = world
    basic = profession_association(trained["transe"].model, graph, held)
    plain = profession_association(trained["kl"].model, graph, held)
    whitelisted = profession_association(trained["kl_whitelist"].model, graph, held)
    assert whitelisted["nun"] > 1.0 and whitelisted["nun"] > 3 * abs(plain["nun"]), (whitelisted, plain)
    others = [abs(v) for name, v in whitelisted.items() if name != "nun"]
    assert max(others) < 0.6 * max(abs(v) for name, v in basic.items() if name != "nun"), (whitelisted, basic)
    # The gender link itself stays debiased.
    kl = gender_kl_to_uniform(trained["kl_whitelist"].model, graph)
    assert float(kl.mean()) < 0.1 * float(gender_kl_to_uniform(trained["transe"].model, graph).mean())


def test_kl_marginal_target(world):
    _, graph, _ = world
    model = fit(graph, model="kl", debias=["gender"], options={"kl_target": "marginal", "kl_weight": 3.0}, epochs=15).model
    table = graph.attribute_table("gender")
    people = table.person_ids[table.membership.any(1)]
    marginal = table.counts().float() / table.counts().sum()
    model.eval()
    with torch.no_grad():
        predicted = model.attribute_distribution(people, 0)
    assert torch.allclose(predicted.mean(0), marginal, atol=0.05), (predicted.mean(0), marginal)
    assert float(predicted.std(0).max()) < 0.1  # each person near the marginal, not only the average


def test_kl_empties_the_models_own_prediction_of_gender(world, trained):
    """``prediction_leakage``: TransE's own score function tells the recorded gender apart almost perfectly;
    the KL model's predicts even odds for everyone (what its term targets), so ranking people by it
    recovers little, and the linear probe still reads more than that (what the other facts imply)."""
    _, graph, _ = world
    basic, debiased = (prediction_leakage(trained[name].model, graph, "gender") for name in ("transe", "kl"))
    assert basic["people"] == debiased["people"] == int(graph.attribute_table("gender").membership.any(1).sum())
    assert basic["roc_auc"] > 0.95 and basic["balanced_accuracy"] > 0.85, basic
    assert debiased["roc_auc"] < 0.7, debiased
    # Several-fold closer to even odds: the term moves only the people while the gender triples keep training
    # the relation and the values (the paper's design), so the two pull against each other.
    assert debiased["distance_from_uniform"] < 0.3 * basic["distance_from_uniform"], (debiased, basic)
    # The same probabilities as the model's scores of (person, has_gender, value), read directly.
    table = graph.attribute_table("gender")
    people = table.person_ids[table.single_label() >= 0]
    model = trained["kl"].model
    model.eval()
    with torch.no_grad():
        p = torch.softmax(model.score_tails(people, torch.full_like(people, table.relation_id),
                                            candidates=table.value_ids), 1)
    tv = 0.5 * (p - 1.0 / table.num_values).abs().sum(1).mean()
    assert debiased["distance_from_uniform"] == pytest.approx(float(tv), rel=1e-5)


def test_prediction_leakage_of_a_reversed_attribute():
    """An attribute stored value -> person (group -> person) is read from S(group, r, person); a model
    that learned it predicts it, and a graph with one recorded value is refused with a clear error."""
    graph = two_attribute_graph(200)
    model = fit(graph, epochs=12).model
    result = prediction_leakage(model, graph, "group")
    assert result["classes"] == list(graph.attribute_table("group").value_labels)
    assert result["roc_auc"] > 0.9, result
    one_value = KnowledgeGraph({"train": [(f"p{i}", GENDER, "female") for i in range(5)]
                                + [("p0", PROFESSION, "nurse")]}, spec=SPEC)
    with pytest.raises(KGError, match="at least two values of 'gender'"):
        prediction_leakage(model, one_value, "gender")


def test_kl_reversed_attribute_and_several_weights(tmp_path):
    """Several attributes at once, one stored value -> person, each with its own weight."""
    graph = two_attribute_graph(200)
    both = fit(graph, epochs=12, model="kl", debias=["gender", "group"], options={"kl_weight": {"*": 1.0, "group": 2.0}})
    model, result = both.model, both.result
    assert set(result.history[-1].extras) == {"kl_gender", "kl_group"}
    table = graph.attribute_table("group")
    people = table.person_ids[table.membership.any(1)]
    model.eval()
    with torch.no_grad():
        direct = model.score_heads(torch.full_like(people, table.relation_id), people, candidates=table.value_ids)
        assert torch.allclose(model.attribute_scores(people, 1), direct)  # S(group, r, person) for each group
        assert float(model.kl_to_target(people, 1).mean()) < 0.02
    only_gender = fit(graph, epochs=1, model="kl", debias=["gender", "group"], options={"kl_weight": {"group": 0.0}})
    assert set(only_gender.result.history[-1].extras) == {"kl_gender"}


@pytest.mark.parametrize("interaction", ["transe-dot", "distmult", "transe-dot-reciprocal"])
def test_attribute_vectors_added_as_scores_equal_rescoring(world, interaction):
    """For scores affine in the head, the hooks add the attribute vectors' own scores instead of scoring the
    moved heads again: the training loss and every gradient are the same either way."""
    _, graph, _ = world
    model = untrained_model(graph, "kl", 16, interaction=interaction, debias=["gender"],
                            options={"whitelist": [[PROFESSION, "nun"], ["friend_of", "*"], [PROFESSION, "nurse"]]})
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


# ---------------------------------------------------------------------------------------------- Bose
def test_bose_filters_lower_gender_leakage(world, trained):
    _, graph, _ = world
    model, result = trained["bose"].model, trained["bose"].result
    basic, filtered = probe_auc(trained["transe"].model, graph), probe_auc(model, graph)
    assert filtered < basic - 0.08, (filtered, basic)
    # The adversary does the work, not the filter network alone (gamma = 0: filters, no discriminators).
    no_adversary = probe_auc(fit(graph, model="bose", debias=["gender"], options={"gamma": 0.0}).model, graph)
    assert filtered < no_adversary - 0.08, (filtered, no_adversary)
    extras = result.history[-1].extras
    assert {"adversary", "disc_loss_gender", "disc_acc_gender"} <= set(extras)
    assert 0.0 <= extras["disc_acc_gender"] <= 1.0


def test_bose_schedule_and_representation(world):
    _, graph, _ = world
    initial = untrained_model(graph, "bose", 16, debias=["gender"])
    before = {n: p.detach().clone() for n, p in initial.named_parameters()}
    dense = {id(p) for p in initial.trainable_dense_parameters()}
    assert dense == {id(p) for p in initial.filters.parameters()}  # discriminators have their own optimizer
    model = fit(graph, "bose", 16, epochs=2, debias=["gender"]).model  # the same seed: starts from ``initial``
    assert before.keys() == dict(model.named_parameters()).keys()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any(n.startswith("filters.") for n in changed) and any(n.startswith("discriminators.") for n in changed)
    model.eval()
    # Only people are filtered; every scoring path sees the same filtered vectors.
    ids = torch.arange(graph.num_entities)
    vectors = model.entity_vectors(ids)
    person = torch.zeros(graph.num_entities, dtype=torch.bool)
    person[graph.people] = True
    assert torch.equal(vectors[~person], model.entity.weight[~person])
    assert not torch.allclose(vectors[person], model.entity.weight[person])
    h, r, t = graph.splits["train"][:300].T
    with torch.no_grad():
        expected = model.score_triples(h, r, t)
        torch.testing.assert_close(model.score_tails(h, r).gather(1, t[:, None]).squeeze(1), expected)
        torch.testing.assert_close(model.score_heads(r, t).gather(1, h[:, None]).squeeze(1), expected)
        free = model.score_head_embeddings(model.entity.weight[h[:5]], int(r[0]), t[:5], heads=h[:5])
    assert torch.allclose(free[:, 0], model.score_triples(h[:5], r[:1].expand(5), t[:1].expand(5)), atol=1e-5)


# ---------------------------------------------------------------------------------------------- runs, CLI
@pytest.mark.parametrize("options", [
    {"model": "kl", "debias": ["gender"], "options": {"whitelist": WHITELIST}},
    {"model": "kl", "debias": ["gender"], "options": {"kl_target": "marginal"}},
    {"model": "bose", "debias": ["gender"]},
])
def test_save_and_load_give_identical_scores(world, tmp_path, options):
    folder, graph, _ = world
    trained = fit(graph, epochs=2, **options)
    model = trained.model
    trained.save(tmp_path / "run", DataSource(data_dir=str(folder), spec=SPEC))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["model_state"]
    assert saved["attributes"][0]["name"] == "gender"
    run = load_run(tmp_path / "run", graph=graph)
    assert type(run.model) is type(model)
    model.eval()
    h, r, t = graph.splits["test"].T
    with torch.no_grad():
        assert torch.equal(run.model.score_tails(h, r), model.score_tails(h, r))
        assert torch.equal(run.model.score_heads(r, t), model.score_heads(r, t))
    reloaded_from_data = load_run(tmp_path / "run")  # rebuilds the graph from the saved data source
    with torch.no_grad():
        assert torch.equal(reloaded_from_data.model.score_tails(h, r), model.score_tails(h, r))


def test_load_refuses_a_whitelist_that_resolves_differently(world, tmp_path):
    folder, graph, _ = world
    fit(graph, epochs=1, model="kl", debias=["gender"], options={"whitelist": WHITELIST}).save(
        tmp_path / "run", DataSource(data_dir=str(folder), spec=SPEC))
    config_path = tmp_path / "run" / "config.json"
    config = json.loads(config_path.read_text())
    config["model_state"]["whitelist_ids"] = [[0, 0]]
    config_path.write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="config.json does not match the run's manifest"):
        load_run(tmp_path / "run", graph=graph)
    (tmp_path / "run" / "manifest.json").unlink()  # without the manifest, the whitelist's own check
    with pytest.raises(CheckpointError, match="whitelist"):
        load_run(tmp_path / "run", graph=graph)


def test_cli_trains_kl_with_a_whitelist_file(world, tmp_path, capsys):
    folder, _, _ = world
    whitelist = tmp_path / "whitelist.tsv"
    whitelist.write_text(f"# professions where gender may matter\n{PROFESSION}\tnun\n", encoding="utf-8")
    out = tmp_path / "run"
    argv = ["train", "--data-dir", str(folder), "--attribute", f"gender={GENDER}", "--target", PROFESSION,
            "--model", "kl", "--debias", "gender", "--kl-weight", "2", "--whitelist", str(whitelist),
            "--epochs", "2", "--dim", "16", "--batch-size", "128", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["test_mrr"] > 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["model"] == "kl" and config["model"]["options"]["kl_weight"] == {"*": 2.0}
    assert config["model_state"]["whitelist"] == [[PROFESSION, "nun", "*"]]
    run = load_run(out)
    assert run.model.whitelist_names == [[PROFESSION, "nun", "*"]]
    assert "kl_gender" in run.history.columns


@pytest.mark.parametrize("flags, message", [
    (["--whitelist", "{bad_relation}"], "no_such_relation"),
    (["--whitelist", "{bad_tail}"], "astronaut"),
    ([], "--debias"),
])
def test_cli_explains_bad_debias_settings(world, tmp_path, capsys, flags, message):
    folder, _, _ = world
    (tmp_path / "bad_relation.tsv").write_text("no_such_relation\tnun\n", encoding="utf-8")
    (tmp_path / "bad_tail.tsv").write_text(f"{PROFESSION}\tastronaut\n", encoding="utf-8")
    flags = [f.format(bad_relation=tmp_path / "bad_relation.tsv", bad_tail=tmp_path / "bad_tail.tsv") for f in flags]
    debias = [] if message == "--debias" else ["--debias", "gender"]
    argv = ["train", "--data-dir", str(folder), "--attribute", f"gender={GENDER}", "--target", PROFESSION,
            "--model", "kl", *debias, *flags, "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


def test_model_options_are_checked(world):
    _, graph, _ = world
    with pytest.raises(SpecError, match="religion"):
        untrained_model(graph, "kl", debias=["religion"])
    with pytest.raises(SpecError, match="kl_target"):
        untrained_model(graph, "kl", debias=["gender"], options={"kl_target": "flat"})
    with pytest.raises(SpecError, match="gamma_typo"):
        untrained_model(graph, "bose", debias=["gender"], options={"gamma_typo": 1})
    with pytest.raises(SpecError, match="KL weights are given for attributes that are not debiased: religion"):
        untrained_model(graph, "kl", debias=["gender"], options={"kl_weight": {"religion": 1.0}})
    # A tail given by its label resolves to the entity; '*' whitelists the whole relation.
    model = untrained_model(graph, "kl", debias=["gender"], options={"whitelist": [[PROFESSION, "NUN"], ["born_in", "*"]]})
    assert sorted(model.whitelist_names) == sorted([[PROFESSION, "nun", "*"], ["born_in", "*", "*"]])
