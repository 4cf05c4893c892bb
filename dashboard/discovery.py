"""Where runs and knowledge graphs live on disk, and finding them.

Run folders are found in two places: the shipped ``assets/`` (pretrained demo runs; read only) and the
user's runs folder (``$KGCORE_RUNS``, default ``runs/`` in the repository), where the Train page
writes new runs and uploaded graphs (``<runs>/datasets/<name>/``). A run's ``config.json`` says which data
it was trained on, so each distinct data source among the runs becomes a choice in the sidebar.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import streamlit as st

from kgcore.errors import KGError
from model_info import model_label, model_order

ROOT = Path(__file__).resolve().parents[1]
RUNS_ENV = "KGCORE_RUNS"
ASSETS_ENV = "KGCORE_ASSETS"
DEMO_KEY = "demo"
SCAN_DEPTH = 4
CHIP_NAME = 16  # characters of a run name on a sidebar chip


# ---------------------------------------------------------------------------------------------- places
def runs_root() -> Path:
    """The user's runs folder (``$KGCORE_RUNS``, default ``runs/`` beside the dashboard)."""
    return Path(os.environ.get(RUNS_ENV) or ROOT / "runs").expanduser().resolve()


def assets_root() -> Path:
    """Pretrained runs shipped with the project (``$KGCORE_ASSETS`` moves them, e.g. for tests)."""
    return Path(os.environ.get(ASSETS_ENV) or ROOT / "assets").expanduser().resolve()


def datasets_root() -> Path:
    return runs_root() / "datasets"


def slug(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-.")
    return cleaned[:60] or "run"


# ---------------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class DatasetInfo:
    """A knowledge graph the sidebar offers: its key, label and the DataSource (as JSON) that loads it."""

    key: str
    label: str
    data_json: str
    synthetic: bool = False

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.data_json)


@dataclass(frozen=True)
class RunInfo:
    """A run folder found on disk (cheap: only config.json was read)."""

    path: str
    name: str
    model: str
    dim: int
    epochs: int
    dataset_key: str
    data_json: str
    origin: str  # "pretrained" (assets) or "yours" (runs folder)
    mtime: float

    @property
    def model_label(self) -> str:
        return model_label(self.model)

    @property
    def label(self) -> str:
        return f"{self.model_label} · {self.name}" + (" (pretrained)" if self.origin == "pretrained" else "")

    @property
    def chip(self) -> str:
        """A label short enough for the sidebar's chips, unique per run: the model's first word, and for your
        other runs the run name, shortened in the middle (the full names are listed under the chips)."""
        word = self.model_label.split()[0]
        if self.origin == "pretrained" and self.name == self.model:  # the demo assets: one folder per model
            return word
        name = self.name if len(self.name) <= CHIP_NAME else self.name[:CHIP_NAME - 7] + "…" + self.name[-6:]
        return f"{word}: {name}"

    @property
    def short(self) -> str:
        """A compact unique label for chart legends."""
        return self.model_label if self.origin == "pretrained" else f"{self.model_label} ({self.name})"


# ---------------------------------------------------------------------------------------------- data sources
def canonical_data(data: dict[str, Any]) -> dict[str, Any]:
    """A DataSource dict with defaults spelled out, so equal data give equal keys."""
    data = {k: data.get(k) for k in ("dataset", "data_dir", "spec", "labels_file", "unseen", "options")}
    data["options"] = dict(data.get("options") or {})
    data["unseen"] = data.get("unseen") or "error"
    if data["dataset"] == "demo" and data["options"]:
        from kgcore.demo import DemoWorldConfig  # torch-free (the world's generator loads on first use)

        defaults = DemoWorldConfig().to_dict()
        data["options"] = {k: v for k, v in {**defaults, **data["options"]}.items() if defaults.get(k) != v}
    return data


def demo_data_json() -> str:
    """The built-in demo world's DataSource, as the JSON the loaders take."""
    return json.dumps(canonical_data({"dataset": "demo"}), sort_keys=True)


def shipped_overview(data_json: str) -> dict[str, Any] | None:
    """The demo world's ``kgcore.data.overview`` stored beside the pretrained runs, when ``data_json`` is the
    built-in demo world with the settings the file was made for: the Overview then needs neither the world nor
    torch. None otherwise (another graph, no file, a damaged one: the caller computes it)."""
    if data_json != demo_data_json():
        return None
    from kgcore.demo import GRAPH_OVERVIEW_FILE, DemoWorldConfig

    path = assets_root() / DEMO_KEY / GRAPH_OVERVIEW_FILE
    try:
        stored = _read_overview(str(path), path.stat().st_mtime_ns)
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("world_config") != DemoWorldConfig().to_dict():
        return None
    overview = stored.get("overview")
    return overview if isinstance(overview, dict) and isinstance(overview.get("counts"), dict) else None


@st.cache_data(show_spinner=False, max_entries=4)
def _read_overview(path: str, stamp: int) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def dataset_key(data: dict[str, Any]) -> str:
    data = canonical_data(data)
    if data["dataset"] and not data["data_dir"]:
        extra = {k: data[k] for k in ("spec", "options") if data[k]}
        return data["dataset"] + (":" + json.dumps(extra, sort_keys=True) if extra else "")
    return "dir:" + str(data["data_dir"])


def dataset_label(data: dict[str, Any], fallback: str = "") -> str:
    data = canonical_data(data)
    if data["dataset"] == "demo":
        options = ", ".join(f"{k}={v}" for k, v in data["options"].items())
        return "Demo world (synthetic)" + (f" [{options}]" if options else "")
    if data["dataset"] == "fb15k237":
        return "FB15k-237 (Freebase)"
    if data["dataset"]:
        return data["dataset"]
    return fallback or Path(str(data["data_dir"])).name


# ---------------------------------------------------------------------------------------------- discovery
def _walk_runs(root: Path, depth: int = SCAN_DEPTH) -> Iterator[Path]:
    if depth < 0 or not root.is_dir():
        return
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    names = {e.name for e in entries}
    if "config.json" in names and "model.pt" in names:
        yield root
        return
    for entry in entries:
        if entry.is_dir() and not entry.name.startswith((".", "__")) and entry.name != "datasets":
            yield from _walk_runs(Path(entry.path), depth - 1)


def _record_layout() -> str:
    """Part of the disk cache key of ``_read_run``: a changed RunInfo must not be read from old pickles."""
    from dataclasses import fields

    return ",".join(f.name for f in fields(RunInfo))


@st.cache_data(show_spinner=False, max_entries=512, persist="disk")
def _read_run(path: str, mtime: float, origin: str, layout: str) -> tuple[RunInfo | None, str | None]:
    """RunInfo of one folder from its config.json, or a problem message (kept on disk between starts)."""
    from kgcore.run_folder import manifest_problem  # torch-free

    problem = manifest_problem(Path(path))
    if problem:
        return None, f"{path}: skipped, {problem[0].lower()}{problem[1:]}"
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
        model, data = config["model"], config["data"]
        canonical = canonical_data(data)
        return RunInfo(path=path, name=Path(path).name, model=str(model.get("model", "?")),
                       dim=int(model.get("dim", 0)), epochs=int(config.get("train", {}).get("epochs", 0)),
                       dataset_key=dataset_key(data), data_json=json.dumps(canonical, sort_keys=True),
                       origin=origin, mtime=mtime), None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, KGError) as exc:
        return None, f"{path}: not a readable run folder ({type(exc).__name__}: {exc})."


def discover_runs() -> tuple[list[RunInfo], list[str]]:
    """Every run folder under the assets and the user's runs folder, and problems met on the way."""
    runs, problems, seen = [], [], set()
    for origin, root in (("pretrained", assets_root()), ("yours", runs_root())):
        for folder in _walk_runs(root):
            key = str(folder.resolve())
            if key in seen:
                continue
            seen.add(key)
            try:
                mtime = max((folder / name).stat().st_mtime for name in ("config.json", "model.pt", "manifest.json")
                            if name != "manifest.json" or (folder / name).exists())
            except OSError:
                continue
            info, problem = _read_run(key, mtime, origin, _record_layout())
            if info is not None:
                runs.append(info)
            elif problem:
                problems.append(problem)
    runs.sort(key=lambda r: (r.origin != "pretrained", model_order(r.model), r.name))
    return runs, problems


def uploaded_datasets() -> list[DatasetInfo]:
    """Graphs uploaded on the Train page (``<runs>/datasets/<name>/dataset.json``)."""
    found = []
    root = datasets_root()
    if not root.is_dir():
        return found
    for folder in sorted(p for p in root.iterdir() if (p / "dataset.json").exists()):
        try:
            meta = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
            data = canonical_data(meta["data"])
            found.append(DatasetInfo(dataset_key(data), meta.get("label") or folder.name,
                                     json.dumps(data, sort_keys=True)))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def available_datasets(runs: list[RunInfo]) -> list[DatasetInfo]:
    """The built-in demo first, then graphs of runs and uploads, then FB15k-237 when it is on disk."""
    demo = canonical_data({"dataset": "demo"})
    datasets = {DEMO_KEY: DatasetInfo(DEMO_KEY, dataset_label(demo), json.dumps(demo, sort_keys=True), True)}
    for info in uploaded_datasets():
        datasets.setdefault(info.key, info)
    for run in runs:
        if run.dataset_key not in datasets:
            data = json.loads(run.data_json)
            datasets[run.dataset_key] = DatasetInfo(run.dataset_key, dataset_label(data), run.data_json,
                                                    synthetic=data.get("dataset") == "demo")
    if "fb15k237" not in datasets and _fb15k237_on_disk():
        data = canonical_data({"dataset": "fb15k237"})
        datasets["fb15k237"] = DatasetInfo("fb15k237", dataset_label(data), json.dumps(data, sort_keys=True))
    return list(datasets.values())


def _fb15k237_on_disk() -> bool:
    """Whether FB15k-237 sits where ``--dataset fb15k237`` looks (``kgcore.data.locations`` imports no
    torch, so the sidebar stays fast)."""
    from kgcore.data.locations import find_fb15k237

    return find_fb15k237() is not None
