"""The small demo model trained once when no pretrained demo runs are installed, so the results pages
always have a model to show on the built-in demo world."""
from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from discovery import demo_data_json, runs_root
from loaders import load_graph

FALLBACK_RUN = "quick-transe"
FALLBACK_EPOCHS = 8
FALLBACK_DIM = 32

_train_lock = threading.Lock()


def train_fallback_demo_run() -> Path:
    """A small TransE on the demo world, trained once when no pretrained demo runs are installed
    (``python -m kgcore demo --rebuild`` writes the real ones to assets/demo)."""
    from kgcore.data.datasets import DataSource
    from kgcore.models import ModelConfig
    from kgcore.training.loop import TrainConfig
    from kgcore.training.pipeline import train_and_save

    from kgcore.errors import KGError
    from kgcore.run_folder import manifest_problem

    out = runs_root() / "demo" / FALLBACK_RUN
    with _train_lock:
        if (out / "manifest.json").exists() and manifest_problem(out) is None:
            return out
        st.info("No pretrained demo models were found (they live in `assets/demo`, written by "
                "`python -m kgcore demo --rebuild`). Training a small Basic model on the demo world once; "
                "it is saved and reused.")
        bar = st.progress(0.0, text="Training a small model…")
        graph = load_graph(demo_data_json())
        config = TrainConfig(epochs=FALLBACK_EPOCHS, batch_size=1024, seed=0, device="cpu")

        def on_epoch(record) -> None:
            bar.progress(record.epoch / config.epochs,
                         text=f"Training a small model: epoch {record.epoch}/{config.epochs}, loss {record.loss:.3f}")

        try:  # the folder is the dashboard's own: whatever an interrupted attempt left there is replaced
            train_and_save(out, ModelConfig(model="transe", dim=FALLBACK_DIM), config, DataSource(dataset="demo"),
                           graph, progress=False, on_epoch=on_epoch, splits=("test",), overwrite=True)
        except (KGError, OSError) as exc:
            bar.empty()
            raise KGError(f"No demo model could be trained and saved in {out.parent} ({exc}); set the KGCORE_RUNS "
                          "environment variable to a folder you can write to and restart the dashboard.") from None
        bar.empty()
    return out
