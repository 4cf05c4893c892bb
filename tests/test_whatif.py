"""kgcore.analysis.whatif ("Ask the model" in the dashboard): a person's facts, flipping an attribute, fitting
a free person embedding to facts and ranking professions for it, on a TransE trained on a generated graph whose
professions are skewed by gender."""
from __future__ import annotations

import numpy as np
import pytest

from kgcore.analysis.whatif import (PERSON, fit_person, flip_attribute, person_facts, person_relations,
                                    rank_professions, what_if)
from kgcore.data.graph import KnowledgeGraph
from kgcore.errors import KGError, SpecError

from .factories import trained_model
from .synthetic import (DEFAULT_PROFESSIONS, GENDER, PROFESSION, SPEC, people_triples, split_triples,
                        write_graph)


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory):
    """TransE trained well on a toy graph whose professions are skewed by gender."""
    folder = write_graph(tmp_path_factory.mktemp("whatif"), split_triples(people_triples(400, seed=1), seed=1))
    graph = KnowledgeGraph.from_folder(folder, spec=SPEC)
    return trained_model(graph, dim=32, epochs=30, batch_size=256, lr=0.02), graph


def test_person_facts_leave_out_the_profession_and_mark_the_person(toy_model):
    _, graph = toy_model
    facts = person_facts(graph, "person3")
    assert facts and all(PERSON in (h, t) for h, _, t in facts)
    assert not any(r == PROFESSION for _, r, _ in facts)
    assert (PERSON, GENDER, "female") in facts or (PERSON, GENDER, "male") in facts
    with_target = person_facts(graph, "person3", exclude_target=False)
    # people_triples gives person i the i-th profession of its table (cyclically): person3 is a teacher.
    assert [f for f in with_target if f[1] == PROFESSION] == [(PERSON, PROFESSION, list(DEFAULT_PROFESSIONS)[3])]


def test_flip_replaces_the_attribute_fact_only(toy_model):
    _, graph = toy_model
    facts = [(PERSON, GENDER, "female"), (PERSON, "born_in", "city1")]
    assert flip_attribute(graph, facts, "gender", "male") == [(PERSON, "born_in", "city1"), (PERSON, GENDER, "male")]
    with pytest.raises(SpecError, match="no value 'other'"):
        flip_attribute(graph, facts, "gender", "other")
    with pytest.raises(SpecError, match="Unknown attribute"):
        flip_attribute(graph, facts, "religion", "x")


@pytest.mark.slow
def test_fitted_people_get_their_own_profession_back(toy_model):
    model, graph = toy_model
    hits = tried = 0
    for i in range(60):
        facts = person_facts(graph, f"person{i}", exclude_target=False)
        own = [t for _, r, t in facts if r == PROFESSION]
        if not own:  # their profession triple was held out of train
            continue
        tried += 1
        hits += own[0] in rank_professions(model, graph, fit_person(model, graph, facts), top=2)["entity"].tolist()
    assert tried >= 40
    assert hits >= 0.75 * tried, f"only {hits} of {tried} people got their own profession in the top 2"


def test_flipping_gender_moves_the_skewed_professions(toy_model):
    model, graph = toy_model
    answer = what_if(model, graph, [(PERSON, GENDER, "female")], "gender", "male", top=8)
    assert answer.original_value == "female" and answer.flipped_value == "male"
    before = dict(zip(answer.original["entity"], answer.original.index))
    after = dict(zip(answer.flipped["entity"], answer.flipped.index))
    female_jobs, male_jobs = ("nurse", "model", "dancer"), ("banker", "director", "engineer")
    assert np.mean([after[p] for p in female_jobs]) > np.mean([before[p] for p in female_jobs])
    assert np.mean([after[p] for p in male_jobs]) < np.mean([before[p] for p in male_jobs])
    assert set(answer.changes["change"]) <= {"new", "dropped", "up", "down", "same"}
    assert answer.original["probability"].is_monotonic_decreasing


def test_whatif_rejects_unusable_facts(toy_model):
    model, graph = toy_model
    with pytest.raises(KGError, match="no facts"):
        fit_person(model, graph, [])
    with pytest.raises(KGError, match="Unknown entity"):
        fit_person(model, graph, [(PERSON, GENDER, "nobody")])
    with pytest.raises(KGError, match="exactly one"):
        fit_person(model, graph, [("a", GENDER, "b")])
    relations = person_relations(graph)
    assert PROFESSION not in relations and GENDER in relations
    assert {t for t, _ in relations[GENDER]} == {"male", "female"}


def test_fit_person_equals_torch_optim_adam_with_cosine_decay(toy_model):
    """fit_person writes Adam and the cosine decay out (constructing torch.optim imports torch._dynamo, seconds
    on the first question); the fitted vector must be the one torch.optim gives, bit for bit."""
    import torch

    from kgcore.analysis.whatif import FIT_LR, FIT_STEPS, fact_scores
    from kgcore.models.embedding import unit_norm

    model, graph = toy_model
    person = graph.entities[int(graph.people[0])]
    facts = person_facts(graph, person)
    ours = fit_person(model, graph, facts)
    start = fit_person(model, graph, facts, steps=0)
    emb = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([emb], lr=FIT_LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=FIT_STEPS)
    for _ in range(FIT_STEPS):
        loss = -fact_scores(model, graph, emb, facts).mean()
        (emb.grad,) = torch.autograd.grad(loss, [emb])
        optimizer.step()
        schedule.step()
        if getattr(model.config, "entity_norm", False):
            with torch.no_grad():
                emb.copy_(unit_norm(emb[None])[0])
    assert torch.equal(ours, emb.detach())


@pytest.mark.parametrize("name", ["bose", "kl"])
def test_fitting_scores_each_fact_as_the_model_does(toy_model, name):
    """fit_person represents the person once per step for all their facts and looks the rest up once; its scores
    (and, up to rounding, gradients) must be the model's own (``score_head_embeddings`` / ``score_tail_embeddings``) for models whose
    ``represent`` is not the identity (Bose & Hamilton's filters) or that add attribute vectors (KL)."""
    import torch

    from kgcore.analysis.whatif import _FactScorer, fact_scores

    _, graph = toy_model
    model = trained_model(graph, name, dim=16, epochs=3, debias=["gender"])
    model.eval()
    facts = person_facts(graph, "person7")
    assert any(h == PERSON for h, _, _ in facts) and any(t == PERSON for _, _, t in facts)
    emb = torch.randn(16, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    expected = fact_scores(model, graph, emb, facts)
    got = _FactScorer(model, graph, facts, emb.device)(emb)
    assert torch.equal(got, expected)
    (grad_expected,) = torch.autograd.grad(expected.sum(), [emb])
    (grad_got,) = torch.autograd.grad(got.sum(), [emb])
    # One pass through the filters sums the facts' gradients in another order: equal up to rounding.
    torch.testing.assert_close(grad_got, grad_expected, rtol=1e-5, atol=1e-6)
