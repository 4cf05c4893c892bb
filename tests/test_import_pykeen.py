"""``kgcore import pykeen``: a small model trained by PyKEEN's pipeline, saved, imported, and scored by both
libraries on the same triples; scores and filtered MRR must agree."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kgcore.cli import main
from kgcore.runs import load_run
from kgcore.training.evaluate import evaluate

from .synthetic import GENDER, PROFESSION, people_triples, split_triples, write_graph

pykeen_pipeline = pytest.importorskip("pykeen.pipeline")
from pykeen.triples import TriplesFactory  # noqa: E402

DATA_FLAGS = ["--attribute", f"gender={GENDER}", "--target", PROFESSION]
MODELS = [  # PyKEEN model, its keyword arguments, the kgcore interaction it maps to
    ("TransE", {"scoring_fct_norm": 1}, "transe-l1"),
    ("TransE", {"scoring_fct_norm": 2}, "transe-l2"),
    ("DistMult", {}, "distmult"),
    ("ComplEx", {}, "complex"),
]


@pytest.fixture(scope="module")
def splits():
    return split_triples(people_triples(40, seed=2), seed=2)


@pytest.fixture(scope="module")
def graph_dir(splits, tmp_path_factory) -> Path:
    return write_graph(tmp_path_factory.mktemp("pykeen_graph"), splits)


def train_pykeen(splits, model: str, kwargs: dict, folder: Path):
    """PyKEEN's pipeline on the graph's splits (seeded), saved with save_to_directory."""
    training = TriplesFactory.from_labeled_triples(np.array(splits["train"]))
    maps = {"entity_to_id": training.entity_to_id, "relation_to_id": training.relation_to_id}
    validation = TriplesFactory.from_labeled_triples(np.array(splits["valid"]), **maps)
    testing = TriplesFactory.from_labeled_triples(np.array(splits["test"]), **maps)
    result = pykeen_pipeline.pipeline(
        training=training, validation=validation, testing=testing, model=model,
        model_kwargs={"embedding_dim": 8, **kwargs}, training_kwargs={"num_epochs": 8, "batch_size": 64},
        optimizer_kwargs={"lr": 0.05}, random_seed=0, device="cpu", use_tqdm=False)
    result.save_to_directory(folder)
    return result, testing


@pytest.fixture(scope="module", params=MODELS, ids=[f"{m}-{i}" for m, _, i in MODELS])
def trained(request, splits, tmp_path_factory):
    model, kwargs, interaction = request.param
    folder = tmp_path_factory.mktemp("pykeen_result")
    result, testing = train_pykeen(splits, model, kwargs, folder)
    return folder, result, testing, interaction


def test_scores_and_filtered_mrr_equal_pykeen(trained, graph_dir, tmp_path):
    folder, result, testing, interaction = trained
    out = tmp_path / "run"
    assert main(["import", "pykeen", str(folder), "--trust-pickle", "--data-dir", str(graph_dir), *DATA_FLAGS,
                 "--out", str(out)]) == 0
    run = load_run(out)
    assert run.model_config.interaction == interaction

    # The test triples in both libraries' ids; PyKEEN's candidate columns reordered to kgcore's ids.
    pk = testing.mapped_triples
    entity_label = {i: e for e, i in testing.entity_to_id.items()}
    relation_label = {i: r for r, i in testing.relation_to_id.items()}
    ours = torch.tensor([[run.graph.entity_to_id[entity_label[int(h)]], run.graph.relation_to_id[relation_label[int(r)]],
                          run.graph.entity_to_id[entity_label[int(t)]]] for h, r, t in pk])
    columns = torch.tensor([testing.entity_to_id[name] for name in run.graph.entities])
    model = result.model.eval()
    with torch.no_grad():
        triple_diff = (run.model.score_triples(ours[:, 0], ours[:, 1], ours[:, 2])
                       - model.score_hrt(pk).squeeze(1)).abs().max()
        tail_diff = (run.model.score_tails(ours[:, 0], ours[:, 1]) - model.score_t(pk[:, :2])[:, columns]).abs().max()
        head_diff = (run.model.score_heads(ours[:, 1], ours[:, 2]) - model.score_h(pk[:, 1:])[:, columns]).abs().max()
    theirs = result.metric_results.get_metric("both.realistic.inverse_harmonic_mean_rank")
    mine = evaluate(run.model, run.graph, "test")["mrr"]
    print(f"PyKEEN {interaction}: max |score diff| triples {float(triple_diff):.1e}, tails {float(tail_diff):.1e}, "
          f"heads {float(head_diff):.1e}; filtered MRR kgcore {mine:.6f} vs PyKEEN {theirs:.6f}")
    assert max(triple_diff, tail_diff, head_diff) <= 1e-4
    assert abs(mine - theirs) <= 1e-4


def test_state_dict_is_read_without_the_pickle(trained, graph_dir, tmp_path):
    folder, result, _, interaction = trained
    pickled = tmp_path / "pickled"
    assert main(["import", "pykeen", str(folder), "--trust-pickle", "--data-dir", str(graph_dir), *DATA_FLAGS,
                 "--out", str(pickled)]) == 0
    plain = tmp_path / "plain"
    plain.mkdir()
    torch.save(result.model.state_dict(), plain / "state_dict.pt")
    (plain / "training_triples").symlink_to(folder / "training_triples")
    out = tmp_path / "run"
    assert main(["import", "pykeen", str(plain), "--interaction", interaction, "--data-dir", str(graph_dir),
                 *DATA_FLAGS, "--out", str(out)]) == 0
    for name in ("entity", "relation"):
        assert torch.equal(getattr(load_run(out).model, name).weight, getattr(load_run(pickled).model, name).weight)


def test_pickle_needs_trust_and_unsupported_models_are_refused(splits, graph_dir, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "rotate"
    train_pykeen(splits, "RotatE", {}, folder)
    args = ["import", "pykeen", str(folder), "--data-dir", str(graph_dir), *DATA_FLAGS, "--out", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--trust-pickle" in err and len(err.strip().splitlines()) == 1
    assert main(args + ["--trust-pickle"]) == 2
    err = capsys.readouterr().err
    assert "RotatE" in err and "no exact kgcore interaction" in err
    monkeypatch.setitem(sys.modules, "pykeen", None)  # as if not installed
    assert main(args + ["--trust-pickle"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: pykeen is not installed") and "kgcore[pykeen]" in err
    assert not (tmp_path / "r").exists()
