"""The papers' own setting (Fisher et al. 2020): the preset, the evaluation without sensitive triples, the
Measuring paper's B_p, KL as the Debiasing paper defines it, and attribute vectors trained by twin triples."""
from __future__ import annotations

import json

import pytest
import torch

from kgcore.analysis.measure import measure_bias
from kgcore.cli import main
from kgcore.models.kl import kl_divergence
from kgcore.runs import load_run
from kgcore.training.evaluate import evaluate
from kgcore.training.loop import TrainConfig, seed_everything, train
from kgcore.training.presets import FISHER2020

from .factories import untrained_model
from .synthetic import GENDER, PROFESSION

SPEC_ARGS = ["--attribute", f"gender={GENDER}", "--target", PROFESSION]


@pytest.mark.parametrize("interaction", ["transe-dot", "transe-dot-reciprocal"])
def test_bp_for_dot_product_transe_is_the_same_step_for_every_person(toy_graph, interaction):
    """For g(h, r, t) = <h + r, t> the gradient of S(j, gender, a) - S(j, gender, b) is e_a - e_b whoever j is,
    so B_p = alpha * <e_a - e_b, e_p> exactly, and it scales with alpha."""
    model = untrained_model(toy_graph, interaction=interaction, entity_norm=False)
    with torch.no_grad():  # vectors of the size a trained model has (the preset starts them near zero)
        model.entity.weight.normal_()
        model.relation.weight.normal_()
    table, target = toy_graph.attribute_table("gender"), toy_graph.target_table
    result = measure_bias(model, toy_graph, "gender")
    assert result.step_size == 0.01 and not result.use_probability
    with torch.no_grad():
        e = model.entity.weight
        for j, label in enumerate(result.values):
            a = int(table.value_ids[j])
            others = [int(v) for i, v in enumerate(table.value_ids) if i != j]
            direction = e[a] - e[others].mean(0)
            expected = 0.01 * (e[target.value_ids] @ direction)
            got = torch.tensor(result.frame[f"B_{label}"].to_numpy(), dtype=expected.dtype)
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-7)
    tenfold = measure_bias(model, toy_graph, "gender", step_size=0.1)
    torch.testing.assert_close(torch.tensor(tenfold.score_change), 10 * torch.tensor(result.score_change),
                               rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("interaction", ["transe-dot", "transe-dot-reciprocal", "transe-l1"])
def test_kl_term_moves_only_the_people(toy_graph, interaction):
    """The KL term's gradient reaches the people's embeddings only: relation and value embeddings get none
    from it (autograd; TransE L1 through the numba kernel's autograd function too)."""
    model = untrained_model(toy_graph, "kl", interaction=interaction, debias=["gender"])
    model.train()
    batch = toy_graph.splits["train"][:64]
    terms = model.extra_loss(batch)
    assert set(terms) == {"kl_gender"} and terms["kl_gender"].requires_grad
    terms["kl_gender"].backward()
    assert model.relation.take_gradient() is None
    rows, grad = model.entity.take_gradient()
    moved = rows[grad.abs().sum(1) > 0]
    people = set(model.batch_people(batch).tolist())
    assert moved.numel() and set(moved.tolist()) <= people
    assert not set(moved.tolist()) & set(model.values_0.tolist())


@pytest.mark.parametrize("interaction", ["transe-dot", "transe-l1"])
def test_kl_term_may_also_move_the_attribute_relations(toy_graph, interaction):
    """With ``kl_moves`` "people+relations" the KL term's gradient reaches the people and the gender relation
    (equal to autograd through the interaction's own scores), never the values; training takes the autograd
    path, not the fused kernel that leaves relations to the ranking loss."""
    model = untrained_model(toy_graph, "kl", interaction=interaction, debias=["gender"],
                            options={"kl_moves": "people+relations"})
    assert not model.supports_fused_step()
    model.train()
    batch = toy_graph.splits["train"][:64]
    model.extra_loss(batch)["kl_gender"].backward()
    rows, grad = model.relation.take_gradient()
    relation_id = model.attributes[0].relation_id
    assert rows.tolist() == [relation_id] and float(grad.abs().sum()) > 0
    entity_rows, _ = model.entity.take_gradient()
    assert not set(entity_rows.tolist()) & set(model.values_0.tolist())
    # The same gradient from the interaction's scores through autograd.
    people = model.batch_people(batch)
    relation = model.relation.weight[relation_id:relation_id + 1].clone().requires_grad_(True)
    scores = model.interaction.score_tails(model.entity.weight[people], relation, model.entity.weight[model.values_0])
    kl_divergence(scores, model.log_target_0, predicted_first=False).mean().backward()
    torch.testing.assert_close(grad[0], relation.grad[0], rtol=1e-4, atol=1e-6)


def test_fused_kl_step_leaves_values_and_relations_to_the_ranking_loss(toy_graph):
    """The fused TransE L1 step with the KL term differs from the one without it only in the people's rows."""
    from kgcore.training import fused
    from kgcore.training.sampling import NegativeSampler

    pos = toy_graph.splits["train"][:128]
    neg, _ = NegativeSampler(toy_graph.num_entities, 2).sample(pos, torch.Generator().manual_seed(0))
    steps = []
    for weight in (1.0, 0.0):
        model = untrained_model(toy_graph, "kl", interaction="transe-l1", debias=["gender"],
                                options={"kl_weight": weight})
        model.train()
        assert fused.applies(model, TrainConfig(), torch.device("cpu"))
        model.fused_step(pos, neg, 1.0)
        steps.append((model.entity.take_gradient(), model.relation.take_gradient(), model))
    (ent_kl, rel_kl, model), (ent_plain, rel_plain, _) = steps
    torch.testing.assert_close(rel_kl[1], rel_plain[1])
    dense = [torch.zeros_like(model.entity.weight).index_add_(0, *g) for g in (ent_kl, ent_plain)]
    changed = ((dense[0] - dense[1]).abs().sum(1) > 1e-7).nonzero().flatten().tolist()
    assert changed and set(changed) <= set(model.batch_people(pos).tolist())


def test_twin_relations_train_the_attribute_vectors_and_are_never_saved(toy_dir, toy_graph, tmp_path, capsys):
    """KL + Attr.: every sensitive triple's twin trains the attribute vectors; the twin relations are
    dropped after training (not in the run's relations, not in model.pt) and the run reloads."""
    out = tmp_path / "kl_attr"
    whitelist = tmp_path / "whitelist.tsv"
    whitelist.write_text(f"gender\t{PROFESSION}\tnurse\tillustrative\n", encoding="utf-8")
    assert main(["train", "--data-dir", str(toy_dir), *SPEC_ARGS, "--model", "kl", "--debias", "gender",
                 "--whitelist", str(whitelist), "--epochs", "3", "--dim", "16", "--batch-size", "128", "--quiet",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    relations = (out / "relations.tsv").read_text().split()
    assert not any("[ATTR]" in r or "twin" in r for r in relations)
    state = torch.load(out / "model.pt", weights_only=True)
    assert not any(key.startswith("twin_relation") for key in state)
    run = load_run(out)
    assert float(run.model.attribute_vectors[0].detach().abs().sum()) > 0  # learned from the twins (started at zero)
    history = run.history
    assert "twin_gender" in history.columns and history["twin_gender"].iloc[-1] < history["twin_gender"].iloc[0]
    assert run.model.whitelist_names == [[PROFESSION, run.graph.entities[run.graph.entity_to_id["nurse"]], "gender"]]


def test_preset_sets_the_papers_setting_and_flags_win(toy_dir, tmp_path, capsys):
    out = tmp_path / "preset"
    assert main(["train", "--data-dir", str(toy_dir), *SPEC_ARGS, "--preset", "fisher2020", "--epochs", "2",
                 "--dim", "16", "--batch-size", "256", "--negatives", "64", "--quiet", "--out", str(out)]) == 0
    capsys.readouterr()
    config = json.loads((out / "config.json").read_text())
    model, train_ = config["model"], config["train"]
    assert model["interaction"] == "transe-dot" and not model["entity_norm"] and model["dim"] == 16
    assert (train_["loss"], train_["negative_mode"], train_["optimizer"], train_["lr"], train_["warmup_epochs"]) == \
        ("softmax", "shared", "adagrad", 0.1, 1.0)
    assert (train_["epochs"], train_["batch_size"], train_["num_negatives"]) == (2, 256, 64)  # the flags given
    assert train_["batch_negatives"] == 16  # the preset's quarter of the pool, of the pool given
    corrupt = tmp_path / "corrupt"
    assert main(["train", "--data-dir", str(toy_dir), *SPEC_ARGS, "--preset", "fisher2020", "--epochs", "1",
                 "--dim", "8", "--negative-mode", "corrupt", "--quiet", "--out", str(corrupt)]) == 0
    assert json.loads((corrupt / "config.json").read_text())["train"]["batch_negatives"] == 0  # no shared pool
    capsys.readouterr()
    assert main(["train", "--data-dir", str(toy_dir), *SPEC_ARGS, "--preset", "fisher2020", "--epochs", "1",
                 "--negatives", "64", "--batch-negatives", "250", "--quiet", "--out", str(tmp_path / "no")]) == 2
    assert "between 0 and 64 (got 250)" in capsys.readouterr().err  # a number given is kept, and checked
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["without_sensitive"] and "hits@50" in metrics["test"]
    assert FISHER2020.model_options("kl", ["gender", "religion"]) == {"kl_weight": {"*": 100.0, "gender": 1.0}}
    assert FISHER2020.model_options("kl", ["religion"]) == {"kl_weight": {"*": 100.0}}


def test_evaluation_without_sensitive_triples(toy_graph):
    model = untrained_model(toy_graph)
    every = evaluate(model, toy_graph, "test")
    without = evaluate(model, toy_graph, "test", without_sensitive=True)
    test = toy_graph.splits["test"]
    gender = toy_graph.relation_to_id[GENDER]
    assert without["count"] == 2 * int((test[:, 1] != gender).sum()) < every["count"]
    assert {"hits@1", "hits@10", "hits@50"} <= set(without)


def test_warm_up_raises_the_learning_rate_linearly_over_the_first_epoch(toy_graph):
    """With warm-up the first epoch takes smaller steps: the weights after it differ from a run without, and
    the learning rate reaches the configured one by its end."""
    from kgcore.training import loop

    seen = []
    original = loop.set_learning_rate
    try:
        loop.set_learning_rate = lambda optimizers, lr: (seen.append(lr), original(optimizers, lr))
        model = untrained_model(toy_graph)
        train(model, toy_graph, TrainConfig(epochs=2, batch_size=256, lr=0.05, warmup_epochs=1.0, seed=0),
              progress=False)
    finally:
        loop.set_learning_rate = original
    batches = -(-toy_graph.splits["train"].shape[0] // 256)
    assert seen[:batches] == pytest.approx([0.05 * (i + 1) / batches for i in range(batches)])
    assert seen[-1] == pytest.approx(0.05)
    seed_everything(0)
