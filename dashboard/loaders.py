"""Cached loaders of graphs and models, and the fingerprints of code and data that key results kept on disk.

Caching: graphs and models are shared objects (``st.cache_resource``); tables and results computed from
them (results.py) are copied per session (``st.cache_data``), keyed by the run folder and its modification
time, so a retrained run is never served stale results.
"""
from __future__ import annotations

import importlib
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from kgcore.errors import KGError

if TYPE_CHECKING:
    from discovery import RunInfo


@st.cache_resource(show_spinner="Loading the knowledge graph…", max_entries=4)
def load_graph(data_json: str):
    """The KnowledgeGraph of a DataSource (shared by every session)."""
    from kgcore.data.datasets import DataSource

    return DataSource.from_dict(json.loads(data_json)).load()


@st.cache_resource(show_spinner="Loading the model…", max_entries=16)
def load_run(info: RunInfo):
    """A run's model on its graph (shared; models are only read by the pages)."""
    from kgcore.runs import load_run as kg_load_run

    return kg_load_run(info.path, graph=load_graph(info.data_json))


def code_fingerprint(*modules: str) -> str:
    """Size and modification time of the source files of modules or whole packages (every ``.py`` file
    under a package), found without importing them: part of the keys of results kept on disk, so that
    changed code never serves stale numbers."""
    import importlib.util

    parts = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise KGError(f"The dashboard keys its cached results by the code of {name!r}, which is not installed.")
        files = ([Path(spec.origin)] if not spec.submodule_search_locations
                 else sorted(p for folder in spec.submodule_search_locations for p in Path(folder).rglob("*.py")))
        for path in files:
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def data_fingerprint(data_json: str) -> str:
    """What a graph's contents depend on: generator code for built-in data, file stamps for folders."""
    data = json.loads(data_json)
    if data.get("data_dir"):
        folder = Path(data["data_dir"])
        stamps = []
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            if path.is_file():
                stat = path.stat()
                stamps.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
        return "|".join(stamps)
    return code_fingerprint("kgcore.data", "kgcore.demo")


# The modules the results pages import (torch first), in the order they are needed.
WARM_MODULES = ("torch", "kgcore.runs", "kgcore.data.datasets", "kgcore.analysis.measure", "kgcore.analysis.tables",
                "kgcore.analysis.plane", "kgcore.analysis.trajectory", "kgcore.analysis.whatif", "kgcore.figures.shift",
                "pandas", "plotly.graph_objects", "plotly.subplots")
_warming: list[threading.Thread] = []


def warm_up() -> None:
    """Import ``WARM_MODULES`` in a background thread, once per server process. The Overview draws its first
    chart without them; importing them while people read it means the first click on a results page does not
    wait for torch."""
    if _warming:
        return
    thread = threading.Thread(target=_import_all, name="kgcore-warm-up", daemon=True)
    _warming.append(thread)
    thread.start()


def finish_warm_up() -> None:
    """Wait for the warm-up's imports (if started): a page never imports a module while the background thread
    is half-way through it."""
    for thread in _warming:
        thread.join()


def _import_all() -> None:
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - warming is only a head start; the page reports real import errors
            return
