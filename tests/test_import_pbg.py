"""``kgcore import pbg``: PyTorch-BigGraph checkpoints as kgcore runs.

Two kinds of test. Checkpoints written here with h5py in PBG's layout (known tensors, every supported
operator, two partitions, max_norm and a global embedding) check kgcore's scores of every candidate head
and tail against PBG's formulas written out independently; they always run. The round trip trains PBG for
real in its own virtualenv ($PBG_PYTHON, default /work/pbg-venv/bin/python; skipped when absent; .ci/run builds it)
and checks kgcore's scores of the test triples and filtered MRR against PBG's own.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kgcore.cli import main
from kgcore.data.graph import KnowledgeGraph
from kgcore.runs import load_run
from kgcore.training.evaluate import evaluate

from .synthetic import GENDER, PROFESSION, SPEC, people_triples, split_triples, write_graph

h5py = pytest.importorskip("h5py")

ROOT = Path(__file__).resolve().parents[1]
PBG_PYTHON = Path(os.environ.get("PBG_PYTHON", "/work/pbg-venv/bin/python"))
DATA_FLAGS = ["--attribute", f"gender={GENDER}", "--target", PROFESSION]


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory) -> Path:
    return write_graph(tmp_path_factory.mktemp("pbg_graph"), split_triples(people_triples(40, seed=1), seed=1))


@pytest.fixture(scope="module")
def graph(graph_dir) -> KnowledgeGraph:
    return KnowledgeGraph.from_folder(graph_dir, spec=SPEC)


# ------------------------------------------------------------------ PBG's layout, written by hand
def write_checkpoint(folder: Path, *, operator: str, dynamic: bool, entity_names: list[str], vectors: np.ndarray,
                     relation_names: list[str], state: dict[str, np.ndarray], partitions: int = 1,
                     version: int = 3, **config_extra) -> Path:
    """A PBG checkpoint folder as PBG 1.0 writes it (names in an entity path beside it)."""
    checkpoint, names_dir = folder / "checkpoint", folder / "entities"
    checkpoint.mkdir(parents=True)
    names_dir.mkdir()
    relations = ([{"name": "all_edges", "lhs": "all", "rhs": "all", "operator": operator}] if dynamic else
                 [{"name": name, "lhs": "all", "rhs": "all", "operator": operator} for name in relation_names])
    config = {"entities": {"all": {"num_partitions": partitions, "featurized": False}}, "relations": relations,
              "dimension": vectors.shape[1], "comparator": "dot", "bias": False, "global_emb": False,
              "max_norm": None, "dynamic_relations": dynamic, "entity_path": str(names_dir),
              "checkpoint_path": str(checkpoint), **config_extra}
    (checkpoint / "config.json").write_text(json.dumps(config))
    (checkpoint / "checkpoint_version.txt").write_text(f"{version}\n")
    bounds = np.linspace(0, len(entity_names), partitions + 1).astype(int)
    for part in range(partitions):
        lo, hi = bounds[part], bounds[part + 1]
        (names_dir / f"entity_names_all_{part}.json").write_text(json.dumps(entity_names[lo:hi]))
        with h5py.File(checkpoint / f"embeddings_all_{part}.v{version}.h5", "w") as handle:
            handle.create_dataset("embeddings", data=vectors[lo:hi])
    if dynamic:
        (names_dir / "dynamic_rel_names.json").write_text(json.dumps(relation_names))
    with h5py.File(checkpoint / f"model.v{version}.h5", "w") as handle:
        group = handle.create_group("model")
        for key, value in state.items():
            dataset = group.create_dataset(key.replace(".", "/"), data=value)
            dataset.attrs["state_dict_key"] = key
    return checkpoint


def apply_operator(operator: str, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """PBG's operators (torchbiggraph.model), written out again for the check."""
    if operator == "none":
        return x
    if operator == "translation":
        return x + p["translation"]
    if operator == "diagonal":
        return x * p["diagonal"]
    half = x.shape[-1] // 2
    re, im = x[..., :half], x[..., half:]
    return np.concatenate([re * p["real"] - im * p["imag"], re * p["imag"] + im * p["real"]], -1)


def relation_params(operator: str, rng, count: int, dim: int) -> list[dict[str, np.ndarray]]:
    if operator == "translation":
        return [{"translation": rng.normal(size=dim).astype(np.float32)} for _ in range(count)]
    if operator == "diagonal":
        return [{"diagonal": rng.normal(size=dim).astype(np.float32)} for _ in range(count)]
    if operator == "complex_diagonal":
        return [{"real": rng.normal(size=dim // 2).astype(np.float32),
                 "imag": rng.normal(size=dim // 2).astype(np.float32)} for _ in range(count)]
    return [{} for _ in range(count)]


def stacked(params: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    return np.stack([p[name] for p in params])


CASES = [  # operator, dynamic relations, expected interaction
    ("translation", True, "transe-dot-reciprocal"),
    ("none", True, "distmult"),
    ("diagonal", True, "distmult"),
    ("complex_diagonal", True, "complex"),
    ("diagonal", False, "distmult"),
    ("complex_diagonal", False, "complex"),
    ("none", False, "distmult"),
]


@pytest.mark.parametrize("operator,dynamic,interaction", CASES)
def test_scores_equal_pbg_formulas(operator, dynamic, interaction, graph, graph_dir, tmp_path):
    rng = np.random.default_rng(0)
    dim = 8
    order = rng.permutation(graph.num_entities)  # PBG's own (shuffled) entity order
    names = [graph.entities[i] for i in order]
    vectors = rng.normal(size=(len(names), dim)).astype(np.float32)
    relation_names = list(reversed(graph.relations))
    lhs = relation_params(operator, rng, len(relation_names), dim)
    rhs = lhs if dynamic and operator in ("diagonal", "complex_diagonal") else \
        relation_params(operator, rng, len(relation_names), dim)
    if dynamic and operator == "complex_diagonal":  # one relation for both sides: lhs = conj(rhs)
        rhs = [{"real": p["real"], "imag": -p["imag"]} for p in lhs]
    state = {}
    for name in {"translation": ["translation"], "diagonal": ["diagonal"],
                 "complex_diagonal": ["real", "imag"]}.get(operator, []):
        if dynamic:
            plural = {"translation": "translations", "diagonal": "diagonals"}.get(name, name)
            state[f"lhs_operators.0.{plural}"] = stacked(lhs, name)
            state[f"rhs_operators.0.{plural}"] = stacked(rhs, name)
        else:
            for i, p in enumerate(rhs):
                state[f"rhs_operators.{i}.{name}"] = p[name]
    checkpoint = write_checkpoint(tmp_path, operator=operator, dynamic=dynamic, entity_names=names,
                                  vectors=vectors, relation_names=relation_names, state=state,
                                  partitions=2 if dynamic else 1)
    out = tmp_path / "run"
    assert main(["import", "pbg", str(checkpoint), "--data-dir", str(graph_dir), *DATA_FLAGS, "--out", str(out)]) == 0
    run = load_run(out)
    assert run.model_config.interaction == interaction

    # PBG's scores of every candidate, for the first test triples, in the graph's ids.
    by_graph = vectors[np.argsort(order)]
    test = run.graph.splits["test"][:6]
    with torch.no_grad():
        tails = run.model.score_tails(test[:, 0], test[:, 1]).numpy()
        heads = run.model.score_heads(test[:, 1], test[:, 2]).numpy()
    for row, (h, r, t) in enumerate(test.tolist()):
        k = relation_names.index(graph.relations[r])
        if dynamic:
            want_tails = by_graph @ apply_operator(operator, by_graph[h], lhs[k])
            want_heads = by_graph @ apply_operator(operator, by_graph[t], rhs[k])
        else:
            want_tails = np.array([by_graph[h] @ apply_operator(operator, c, rhs[k]) for c in by_graph])
            want_heads = by_graph @ apply_operator(operator, by_graph[t], rhs[k])
        np.testing.assert_allclose(tails[row], want_tails, atol=1e-4)
        np.testing.assert_allclose(heads[row], want_heads, atol=1e-4)


def test_max_norm_and_global_embedding_are_applied(graph, graph_dir, tmp_path):
    rng = np.random.default_rng(1)
    dim = 6
    vectors = (rng.normal(size=(graph.num_entities, dim)) * 2).astype(np.float32)
    diagonals = rng.normal(size=(graph.num_relations, dim)).astype(np.float32)
    global_emb = rng.normal(size=dim).astype(np.float32)
    state = {f"rhs_operators.{i}.diagonal": d for i, d in enumerate(diagonals)}
    state["global_embs.emb_all"] = global_emb
    checkpoint = write_checkpoint(tmp_path, operator="diagonal", dynamic=False, entity_names=graph.entities,
                                  vectors=vectors, relation_names=graph.relations, state=state, max_norm=1.5,
                                  global_emb=True)
    out = tmp_path / "run"
    assert main(["import", "pbg", str(checkpoint), "--data-dir", str(graph_dir), *DATA_FLAGS, "--out", str(out)]) == 0
    looked_up = torch.nn.functional.embedding(torch.arange(len(vectors)), torch.from_numpy(vectors.copy()),
                                              max_norm=1.5).numpy() + global_emb
    np.testing.assert_allclose(load_run(out).model.entity.weight.numpy(), looked_up, atol=1e-6)


def _checkpoint(tmp_path, graph, operator="translation", dynamic=True, names=None, **extra) -> Path:
    rng = np.random.default_rng(2)
    names = names or graph.entities
    state = {"lhs_operators.0.translations": np.zeros((graph.num_relations, 4), np.float32),
             "rhs_operators.0.translations": np.zeros((graph.num_relations, 4), np.float32)}
    return write_checkpoint(tmp_path, operator=operator, dynamic=dynamic, entity_names=names,
                            vectors=rng.normal(size=(len(names), 4)).astype(np.float32),
                            relation_names=graph.relations, state=state, **extra)


@pytest.mark.parametrize("change,message", [
    ({"comparator": "cos"}, "comparator 'cos' is not supported"),
    ({"operator": "linear"}, "operator 'linear' is not supported"),
    ({"operator": "translation", "dynamic": False}, "translation without dynamic relations"),
    ({"bias": True}, "comparator has a bias"),
    ({"names": "drop"}, "1 of the graph's entities are not in it"),
])
def test_refuses_what_does_not_map(change, message, graph, graph_dir, tmp_path, capsys):
    change = dict(change)
    if change.get("names") == "drop":
        change["names"] = graph.entities[1:]
    checkpoint = _checkpoint(tmp_path, graph, **change)
    code = main(["import", "pbg", str(checkpoint), "--data-dir", str(graph_dir), *DATA_FLAGS,
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_refuses_dynamic_diagonal_with_two_sides(graph, graph_dir, tmp_path, capsys):
    rng = np.random.default_rng(3)
    state = {f"{side}_operators.0.diagonals": rng.normal(size=(graph.num_relations, 4)).astype(np.float32)
             for side in ("lhs", "rhs")}
    checkpoint = write_checkpoint(tmp_path, operator="diagonal", dynamic=True, entity_names=graph.entities,
                                  vectors=rng.normal(size=(graph.num_entities, 4)).astype(np.float32),
                                  relation_names=graph.relations, state=state)
    assert main(["import", "pbg", str(checkpoint), "--data-dir", str(graph_dir), *DATA_FLAGS,
                 "--out", str(tmp_path / "run")]) == 2
    assert "no exact import exists" in capsys.readouterr().err


def test_refuses_missing_files_and_missing_h5py(graph, graph_dir, tmp_path, capsys, monkeypatch):
    checkpoint = _checkpoint(tmp_path, graph)
    (checkpoint / "checkpoint_version.txt").unlink()
    args = ["import", "pbg", str(checkpoint), "--data-dir", str(graph_dir), *DATA_FLAGS, "--out", str(tmp_path / "r")]
    assert main(args) == 2
    assert "checkpoint_version.txt is missing" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "h5py", None)  # as if not installed
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: h5py is not installed") and "kgcore[pbg]" in err


# ------------------------------------------------------------------ PBG trained for real
@pytest.mark.slow
@pytest.mark.skipif(not PBG_PYTHON.exists(), reason=f"PyTorch-BigGraph's venv not found at {PBG_PYTHON} "
                                                    "(set $PBG_PYTHON; see bench/requirements-pbg.txt)")
def test_pbg_round_trip(tmp_path):
    data = write_graph(tmp_path / "graph", split_triples(people_triples(80, seed=0), seed=0))
    result = tmp_path / "pbg.json"
    subprocess.run([str(PBG_PYTHON), str(ROOT / "tests" / "pbg_roundtrip_worker.py"), "--data-dir", str(data),
                    "--work", str(tmp_path / "pbg"), "--dim", "16", "--epochs", "10", "--out", str(result)],
                   check=True, capture_output=True, timeout=300)
    pbg = json.loads(result.read_text())
    out = tmp_path / "run"
    assert main(["import", "pbg", pbg["checkpoint"], "--data-dir", str(data), *DATA_FLAGS, "--out", str(out)]) == 0
    run = load_run(out)
    ids = torch.tensor([[run.graph.entities.index(h), run.graph.relations.index(r), run.graph.entities.index(t)]
                        for h, r, t in pbg["triples"]])
    with torch.no_grad():
        tails = run.model.score_triples(ids[:, 0], ids[:, 1], ids[:, 2])
        heads = run.model.score_triples(ids[:, 0], ids[:, 1], ids[:, 2], for_heads=True)
    diff = float(torch.cat([tails - torch.tensor(pbg["tail_scores"]), heads - torch.tensor(pbg["head_scores"])]).abs().max())
    mrr = evaluate(run.model, run.graph, "test")["mrr"]
    print(f"PBG round trip: {len(pbg['triples'])} test triples, max |score diff| {diff:.2e}, "
          f"filtered MRR kgcore {mrr:.6f} vs PBG {pbg['mrr']:.6f}")
    assert diff <= 1e-4
    assert len(pbg["triples"]) == run.graph.splits["test"].shape[0]
    assert abs(mrr - pbg["mrr"]) <= 0.005
