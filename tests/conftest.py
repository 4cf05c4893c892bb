from __future__ import annotations

import os
from pathlib import Path

import pytest

from kgcore.data.graph import KnowledgeGraph

from .synthetic import SPEC, people_triples, split_triples, write_graph

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
