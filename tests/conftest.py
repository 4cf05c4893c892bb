from __future__ import annotations

import os
from pathlib import Path

import pytest

from kgcore.data.graph import KnowledgeGraph

from kgcore.data.userdata import make_spec, save_dataset

from .apptest_support import train_run
from .synthetic import GENDER, PROFESSION, SPEC, people_triples, split_triples, write_graph

ROOT = Path(__file__).resolve().parents[1]
FB15K_DIR = Path(os.environ.get("KGCORE_FB15K_DIR", ROOT.parent / "shared" / "data" / "fb15k-237"))


@pytest.fixture(scope="session")
def fb15k_dir() -> Path:
    """The shared FB15k-237 copy: skipped when absent, a failure under CI where it must be present."""
    if not (FB15K_DIR / "train.txt").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"FB15k-237 is required under CI but {FB15K_DIR} has no train.txt")
        pytest.skip(f"FB15k-237 not found at {FB15K_DIR}")
    return FB15K_DIR


@pytest.fixture(scope="session")
def fb15k(fb15k_dir) -> KnowledgeGraph:
    from kgcore.data.datasets import DataSource

    return DataSource(dataset="fb15k237", data_dir=str(fb15k_dir)).load()


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory) -> Path:
    return write_graph(tmp_path_factory.mktemp("toy"), split_triples(people_triples(300, seed=0), seed=0))


@pytest.fixture(scope="session")
def toy_graph(toy_dir) -> KnowledgeGraph:
    return KnowledgeGraph.from_folder(toy_dir, spec=SPEC)


# ---------------------------------------------------------------------------------------------- dashboard
@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    """An empty user runs folder for the dashboard."""
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("KGCORE_RUNS", str(folder))
    return folder


@pytest.fixture(scope="module")
def toy_world(tmp_path_factory) -> dict:
    """A small generated KG saved as an uploaded dataset, with a Basic, a KL-debiased and a Bose run."""
    root = tmp_path_factory.mktemp("toy-dashboard")
    runs = root / "runs"
    triples = people_triples(240, seed=3)
    spec = make_spec("toy", PROFESSION, {"gender": GENDER})
    source = save_dataset(runs / "datasets" / "toy", triples, spec, label="Toy graph")
    graph = source.load()
    paths = [train_run(runs / "toy" / "transe", "transe", graph, source),
             train_run(runs / "toy" / "kl", "kl", graph, source, debias=["gender"]),
             train_run(runs / "toy" / "bose", "bose", graph, source, debias=["gender"])]
    return {"runs": runs, "source": source, "graph": graph, "paths": [str(p.resolve()) for p in paths],
            "key": "dir:" + str(Path(source.data_dir).resolve())}
