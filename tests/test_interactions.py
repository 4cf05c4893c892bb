"""Every registered model on every interaction: it trains, evaluates, measures bias and answers the what-if
question; and each interaction's all-candidates scores equal its triple-by-triple scores."""
from __future__ import annotations

import math

import pytest
import torch

from kgcore.analysis.measure import attribute_scores, measure_bias
from kgcore.analysis.projection import arrow_tips
from kgcore.analysis.whatif import person_facts, what_if
from kgcore.models import INTERACTIONS, MODELS, build_interaction
from kgcore.training.evaluate import evaluate

from .factories import fit, untrained_model
from .synthetic import PROFESSION, SPEC, people_triples, split_triples, write_graph


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from kgcore.data.graph import KnowledgeGraph

    folder = write_graph(tmp_path_factory.mktemp("kg"), split_triples(people_triples(120, seed=3), seed=3))
    return KnowledgeGraph.from_folder(folder, spec=SPEC)


@pytest.mark.parametrize("name", list(INTERACTIONS))
def test_all_candidate_scores_equal_triple_scores(name):
    torch.manual_seed(0)
    interaction = build_interaction(name, 8)
    h, t, cands = torch.randn(5, 8), torch.randn(5, 8), torch.randn(7, 8)
    r = torch.randn(5, interaction.relation_dim(8))
    tails = interaction.score_tails(h, r, cands)
    heads = interaction.score_heads(r, t, cands)
    assert tails.shape == heads.shape == (5, 7)
    for j in range(7):
        c = cands[j].expand(5, -1)
        torch.testing.assert_close(tails[:, j], interaction.score(h, r, c), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(heads[:, j], interaction.score_for_heads(c, r, t), rtol=1e-5, atol=1e-5)
    # A relation shared by every row (one row, [1, D]) broadcasts like its repetition.
    torch.testing.assert_close(interaction.score_tails(h, r[:1], cands), interaction.score_tails(h, r[:1].expand(5, -1), cands))


@pytest.mark.parametrize("name", list(INTERACTIONS))
def test_queries_are_the_best_scored_direction(name):
    """``tail_query(h, r)`` is where the score of a unit tail is highest (for distances: the point itself)."""
    torch.manual_seed(1)
    interaction = build_interaction(name, 8)
    h, r = torch.randn(1, 8), torch.randn(1, interaction.relation_dim(8))
    query = interaction.tail_query(h, r)
    others = torch.nn.functional.normalize(torch.randn(500, 8), dim=1) * query.norm()
    best = interaction.score(h, r, query)
    assert bool((interaction.score_tails(h, r, others) <= best + 1e-4).all())
    head = interaction.head_query(r, query)
    other_heads = torch.nn.functional.normalize(torch.randn(500, 8), dim=1) * head.norm()
    assert float(interaction.score_for_heads(head, r, query)) >= float(interaction.score_heads(r, query, other_heads).max()) - 1e-4


def test_reciprocal_relations_let_the_dot_product_rank_heads(graph):
    """With one vector per relation, <c + r, t> adds the same <r, t> to every candidate head, so the relation
    cannot change which head ranks first; the reciprocal interaction ranks heads with a vector of its own,
    which shared negatives train (and only they: the corrupt sampler scores every triple as a tail)."""
    from kgcore.errors import KGError

    one_sided = build_interaction("transe-dot", 8)
    torch.manual_seed(2)
    t, cands = torch.randn(1, 8), torch.randn(30, 8)
    rankings = {tuple(one_sided.score_heads(torch.randn(1, 8), t, cands).argsort(descending=True)[0].tolist())
                for _ in range(5)}
    assert len(rankings) == 1  # whatever the relation
    trained = fit(graph, dim=16, interaction="transe-dot-reciprocal", entity_norm=False, epochs=3, batch_size=128,
                  lr=0.05, training={"loss": "softmax", "negative_mode": "shared", "num_negatives": 32})
    rows = trained.model.relation.weight.detach()
    assert rows.shape[1] == 32 and float(rows[:, 16:].abs().sum()) > 0  # the reciprocal halves moved from zero
    with pytest.raises(KGError, match="shared"):
        fit(graph, dim=16, interaction="transe-dot-reciprocal", epochs=1, training={"loss": "softmax"})


def test_complex_needs_an_even_dimension():
    from kgcore.errors import SpecError

    with pytest.raises(SpecError, match="even"):
        build_interaction("complex", 7)


COMBINATIONS = [(model, interaction) for model in MODELS for interaction in INTERACTIONS]


@pytest.mark.parametrize("model_name, interaction", COMBINATIONS)
def test_every_model_on_every_interaction(graph, model_name, interaction):
    debias = ["gender"] if MODELS[model_name].debiasing else []
    options = {"whitelist": [[PROFESSION, "*"]]} if model_name == "kl" else {}
    settings = {"model": model_name, "dim": 16, "interaction": interaction, "debias": debias, "options": options}
    before = evaluate(untrained_model(graph, **settings), graph, "test")["mrr"]  # fit's initial weights
    # Reciprocal relations train on shared negatives only (heads and tails ranked apart).
    negatives = ({"negative_mode": "shared", "num_negatives": 32} if INTERACTIONS[interaction].reciprocal
                 else {"num_negatives": 8})
    trained = fit(graph, **settings, epochs=6, batch_size=128, lr=0.05, training={"loss": "softmax", **negatives})
    model, result = trained.model, trained.result
    assert all(math.isfinite(record.loss) for record in result.history)
    metrics = evaluate(model, graph, "test")
    assert 0 < metrics["mrr"] <= 1 and metrics["mrr"] > before, (before, metrics["mrr"])
    # Scoring against all entities agrees with scoring each triple (through every model's hooks).
    test = graph.splits["test"][:20]
    with torch.no_grad():
        every_tail = model.score_tails(test[:, 0], test[:, 1])
        every_head = model.score_heads(test[:, 1], test[:, 2])
        one = model.score_triples(test[:, 0], test[:, 1], test[:, 2])
        one_for_heads = model.score_triples(test[:, 0], test[:, 1], test[:, 2], for_heads=True)
    torch.testing.assert_close(every_tail.gather(1, test[:, 2:3]).squeeze(1), one, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(every_head.gather(1, test[:, 0:1]).squeeze(1), one_for_heads, rtol=1e-4, atol=1e-4)
    # ... and the shared-negatives form, one lookup for positives and pool, through every model's hooks.
    pool = torch.arange(0, graph.num_entities, 7)
    with torch.no_grad():
        positives, negatives = model.score_against_pool(test, pool)
    if INTERACTIONS[interaction].reciprocal:  # two ranking problems: tails, then heads
        torch.testing.assert_close(positives, torch.cat([one, one_for_heads]), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(negatives, torch.cat([every_tail[:, pool], every_head[:, pool]]), rtol=1e-4,
                                   atol=1e-4)
    else:  # one ranking problem per positive
        torch.testing.assert_close(positives, one, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(negatives, torch.cat([every_tail[:, pool], every_head[:, pool]], 1), rtol=1e-4,
                                   atol=1e-4)
    # The bias measure, through the interaction's scores.
    table = graph.attribute_table("gender")
    people = table.person_ids[:6]
    with torch.no_grad():
        scores = attribute_scores(model, model.entity.weight[people], people, table)
        direct = torch.stack([model.score_triples(people, torch.full_like(people, table.relation_id),
                                                  torch.full_like(people, int(v))) for v in table.value_ids], 1)
    if model_name != "kl":  # the KL model's whitelist adds attribute vectors to every profession triple only
        torch.testing.assert_close(scores, direct, rtol=1e-4, atol=1e-4)
    bias = measure_bias(model, graph, "gender", use_probability=False)
    assert bias.frame.filter(like="B_").notna().all().all() and len(bias.frame) > 0
    # The what-if person: placed by the interaction's own score, answered by every model.
    person = int(graph.people[0])
    answer = what_if(model, graph, person_facts(graph, person), "gender", table.value_labels[-1], top=5, steps=10)
    assert len(answer.original) == len(answer.flipped) == 5
    assert answer.original["probability"].between(0, 1).all()
    # Arrows on the map exist for translations only.
    tips = arrow_tips(model, graph, "gender", model.entity.weight[people].detach())
    assert (tips is not None) == INTERACTIONS[interaction].translational
