"""What the dashboard's AppTest modules share: the app's path and helpers that read a page or train a run it
lists (the fixtures built on them, ``runs_dir`` and ``toy_world``, are in conftest.py)."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from kgcore.data.datasets import DataSource
from kgcore.data.graph import KnowledgeGraph
from kgcore.runs import load_run

from .factories import trained_run

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
TIMEOUT = 240  # a first visit may measure bias for three models, or train the small fallback model


def clean(at: AppTest) -> None:
    """No exception elements and no error messages on the page."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return found[0]


def goto(at: AppTest, page: str) -> AppTest:
    return at.switch_page(f"views/{page}.py").run(timeout=TIMEOUT)


def selected_run(at: AppTest, key: str):
    return load_run(at.selectbox(key=key).value)


def train_run(folder: Path, name: str, graph: KnowledgeGraph, source: DataSource, **model: object) -> Path:
    """A run the dashboard lists: 15 epochs of dim 24, batch 256, lr 0.02, with its test metrics."""
    return trained_run(folder, source, graph, evaluate_test=True, model=name, dim=24, epochs=15, batch_size=256,
                       lr=0.02, **model)
