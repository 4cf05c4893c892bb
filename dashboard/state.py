"""What every page shares: the sidebar (which knowledge graph, which runs), cached loaders, and the
guard that turns problems into messages.

Run folders are found in two places: the shipped ``assets/`` (pretrained demo runs; read only) and the
user's runs folder (``$KGCORE_RUNS``, default ``runs/`` in the repository), where the Train page
writes new runs and uploaded graphs (``<runs>/datasets/<name>/``). A run's ``config.json`` says which data
it was trained on, so each distinct data source among the runs becomes a choice in the sidebar.

Caching: graphs and models are shared objects (``st.cache_resource``); tables and results computed from
them are copied per session (``st.cache_data``), keyed by the run folder and its modification time, so a
retrained run is never served stale results.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import streamlit as st

from kgcore.errors import KGError

ROOT = Path(__file__).resolve().parents[1]
RUNS_ENV = "KGCORE_RUNS"
ASSETS_ENV = "KGCORE_ASSETS"
DEMO_KEY = "demo"
MAX_UPLOAD_MB = 25
SCAN_DEPTH = 4

MODEL_LABELS = {
    "transe": "Basic (TransE)",
    "kl": "KL-debiased TransE",
    "bose": "Bose & Hamilton filters",
}
MODEL_ORDER = {"transe": 0, "bose": 1, "kl": 2}
MODEL_BLURBS = {
    "transe": "TransE (Bordes et al., 2013) learns a vector for every entity and relation so that head + "
              "relation lands near the tail. It learns whatever patterns the graph holds, including who holds "
              "which profession.",
    "bose": "TransE whose entity vectors pass through filters trained against adversaries that try to read "
            "the sensitive attribute from them; the filters learn to hide it (Bose & Hamilton, ICML 2019).",
    "kl": "TransE with an extra training term (a KL divergence) that pulls the model's guess of each person's "
          "gender towards even odds, so their vector stops encoding it; facts on a whitelist (nun, soprano) "
          "may keep their legitimate link (Fisher et al., EMNLP 2020).",
}
# Colour-blind-safe, not blue/pink: one colour per attribute value, in the table's order.
VALUE_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
MODEL_COLOURS = {"transe": "#4c566a", "bose": "#d08770", "kl": "#5e81ac"}

log = logging.getLogger("kgcore.dashboard")
_train_lock = threading.Lock()


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
        return MODEL_LABELS.get(self.model, self.model)

    @property
    def label(self) -> str:
        return f"{self.model_label} · {self.name}" + (" (pretrained)" if self.origin == "pretrained" else "")

    @property
    def short(self) -> str:
        """A compact unique label for chart legends."""
        return self.model_label if self.origin == "pretrained" else f"{self.model_label} ({self.name})"


@dataclass
class Context:
    """The sidebar's choices for the page being drawn."""

    dataset: DatasetInfo
    runs: list[RunInfo]
    all_runs: list[RunInfo]
    problems: list[str] = field(default_factory=list)

    def graph(self):
        return load_graph(self.dataset.data_json)

    def run(self, info: RunInfo):
        return load_run(info)


# ---------------------------------------------------------------------------------------------- discovery
def canonical_data(data: dict[str, Any]) -> dict[str, Any]:
    """A DataSource dict with defaults spelled out, so equal data give equal keys."""
    data = {k: data.get(k) for k in ("dataset", "data_dir", "spec", "labels_file", "unseen", "options")}
    data["options"] = dict(data.get("options") or {})
    data["unseen"] = data.get("unseen") or "error"
    if data["dataset"] == "demo" and data["options"]:
        from kgcore.demo import DemoWorldConfig  # only when options are given: it imports torch

        defaults = DemoWorldConfig().to_dict()
        data["options"] = {k: v for k, v in {**defaults, **data["options"]}.items() if defaults.get(k) != v}
    return data


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
    """RunInfo of one folder from its config.json, or a problem message (kept on disk: reading a demo
    run's data options imports kgcore.demo, and with it torch)."""
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
                mtime = max((folder / name).stat().st_mtime for name in ("config.json", "model.pt"))
            except OSError:
                continue
            info, problem = _read_run(key, mtime, origin, _record_layout())
            if info is not None:
                runs.append(info)
            elif problem:
                problems.append(problem)
    runs.sort(key=lambda r: (r.origin != "pretrained", MODEL_ORDER.get(r.model, 9), r.name))
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
    """Whether FB15k-237 sits in one of the places ``kgcore.datasets.find_fb15k237`` looks ($KGCORE_DATA_DIR,
    $KGCORE_DATA_DIR/fb15k-237, the kgcore cache), checked here without importing kgcore.datasets (which
    imports torch) so the sidebar stays fast; loading it goes through kgcore as usual."""
    candidates = []
    if os.environ.get("KGCORE_DATA_DIR"):
        env = Path(os.environ["KGCORE_DATA_DIR"])
        candidates += [env / "fb15k-237", env]
    cache = Path(os.environ.get("KGCORE_CACHE") or Path.home() / ".cache" / "kgcore")
    candidates.append(cache / "fb15k-237")
    return any(all((folder / f"{split}.txt").exists() for split in ("train", "valid", "test"))
               for folder in candidates)


# ---------------------------------------------------------------------------------------------- loaders
@st.cache_resource(show_spinner="Loading the knowledge graph…", max_entries=4)
def load_graph(data_json: str):
    """The KnowledgeGraph of a DataSource (shared by every session)."""
    from kgcore.datasets import DataSource

    return DataSource.from_dict(json.loads(data_json)).load()


@st.cache_resource(show_spinner="Loading the model…", max_entries=16)
def load_run(info: RunInfo):
    """A run's model on its graph (shared; models are only read by the pages)."""
    from kgcore.runs import load_run as kg_load_run

    return kg_load_run(info.path, graph=load_graph(info.data_json))


# ---------------------------------------------------------------------------------------------- sidebar
def runs_key(dataset: str) -> str:
    return f"runs::{dataset}"


def select_run_after_rerun(info_path: str, dataset: str) -> None:
    """Make a freshly written run selected the next time the sidebar is drawn."""
    st.session_state.setdefault("_select_next", []).append((dataset, info_path))


def prepare() -> Context:
    """The choices for this run, read before the page is drawn: the knowledge graph and the selected runs
    (from the sidebar's widgets' state). Torch-free, so a page can draw its first chart before any model or
    graph code is imported."""
    runs, problems = discover_runs()
    wanted = st.session_state.pop("_next_dataset", None) or st.session_state.get("dataset", DEMO_KEY)
    datasets = available_datasets(runs)
    by_key = {d.key: d for d in datasets}
    key = wanted if wanted in by_key else DEMO_KEY
    st.session_state["dataset"] = key
    dataset_runs = [r for r in runs if r.dataset_key == key]
    paths = [r.path for r in dataset_runs]
    # Runs that appeared since this session last looked (pretrained assets, a fallback or a finished
    # training) are selected; runs the user deselected stay deselected.
    state_key, known_key = runs_key(key), f"known::{key}"
    known = set(st.session_state.get(known_key, []))
    pending = {p for d, p in st.session_state.pop("_select_next", []) if d == key}
    previous = [p for p in st.session_state.get(state_key, []) if p in paths]
    fresh = [p for p in paths if (p not in known or p in pending) and p not in previous]
    st.session_state[state_key] = previous + fresh
    st.session_state[known_key] = paths
    chosen = set(st.session_state[state_key])
    context = Context(dataset=by_key[key], runs=[r for r in dataset_runs if r.path in chosen], all_runs=dataset_runs,
                      problems=problems)
    st.session_state["_context"] = context
    return context


def sidebar(ctx: Context) -> None:
    """Draw the shared sidebar (after the page, so the page's first chart is not kept waiting). Its widgets'
    state is what ``prepare`` reads on the next run."""
    runs, _ = discover_runs()
    by_key = {d.key: d for d in available_datasets(runs)}
    by_key.setdefault(ctx.dataset.key, ctx.dataset)
    with st.sidebar:
        st.markdown("### Data and models")
        st.selectbox("Knowledge graph", list(by_key), format_func=lambda k: by_key[k].label, key="dataset",
                     help="The built-in default is a synthetic demo world; graphs you upload on the Train page, "
                          "and graphs of runs in your runs folder, appear here too.")
        if ctx.dataset.synthetic:
            st.caption(":material/science: **Synthetic data**: invented people whose profession-by-gender counts "
                       "follow published figures.")
        labels = {r.path: r.short for r in ctx.all_runs}
        st.multiselect("Runs (trained models)", list(labels), format_func=lambda p: labels.get(p, p),
                       key=runs_key(ctx.dataset.key), placeholder="No runs selected",
                       help=f"Pretrained runs ship in assets/; runs you train are saved in {runs_root()}.")
        if not ctx.all_runs:
            st.caption("No trained models for this graph yet.")
        for problem in ctx.problems[:3]:
            st.caption(f":material/warning: {problem}")


def context() -> Context:
    """The choices ``prepare`` read for this run (app.py calls it before the page)."""
    found = st.session_state.get("_context")
    return found if found is not None else prepare()


def require_runs(ctx: Context) -> list[RunInfo]:
    """The selected runs; on the demo world with no runs at all, train a small model once; otherwise say
    what to do and stop the page."""
    if ctx.runs:
        return ctx.runs
    if ctx.all_runs:
        st.warning("No runs are selected. Pick one or more in the sidebar under *Runs*.")
        st.stop()
    if ctx.dataset.key == DEMO_KEY:
        train_fallback_demo_run()
        st.rerun()
    st.info("No trained models for this knowledge graph yet. Train one on the **Train** page; it will "
            "appear here when it finishes.")
    st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()
    raise AssertionError("unreachable")


FALLBACK_RUN = "quick-transe"
FALLBACK_EPOCHS = 8
FALLBACK_DIM = 32


def train_fallback_demo_run() -> Path:
    """A small TransE on the demo world, trained once when no pretrained demo runs are installed
    (``python -m kgcore demo --rebuild`` writes the real ones to assets/demo)."""
    from kgcore.datasets import DataSource
    from kgcore.evaluate import evaluate
    from kgcore.models import ModelConfig, build_model
    from kgcore.runs import save_run
    from kgcore.train import TrainConfig, seed_everything, train

    out = runs_root() / "demo" / FALLBACK_RUN
    with _train_lock:
        if (out / "config.json").exists():
            return out
        st.info("No pretrained demo models were found (they live in `assets/demo`, written by "
                "`python -m kgcore demo --rebuild`). Training a small Basic TransE model on the demo world once; "
                "it is saved and reused.")
        bar = st.progress(0.0, text="Training a small model…")
        graph = load_graph(json.dumps(canonical_data({"dataset": "demo"}), sort_keys=True))
        config = TrainConfig(epochs=FALLBACK_EPOCHS, batch_size=1024, seed=0, device="cpu")
        seed_everything(0)
        model = build_model(ModelConfig(model="transe", dim=FALLBACK_DIM), graph)
        started = time.perf_counter()

        def on_epoch(record) -> None:
            bar.progress(record.epoch / config.epochs,
                         text=f"Training a small model: epoch {record.epoch}/{config.epochs}, loss {record.loss:.3f}")

        result = train(model, graph, config, progress=False, on_epoch=on_epoch)
        metrics = {"train_seconds": time.perf_counter() - started,
                   "test": evaluate(model, graph, "test", progress=False)}
        save_run(out, model, graph, DataSource(dataset="demo"), config, result, metrics)
        bar.empty()
    return out


# ---------------------------------------------------------------------------------------------- timing
TIMING_ENV = "KGCORE_DASHBOARD_TIMING"


def mark(event: str) -> None:
    """With $KGCORE_DASHBOARD_TIMING set, print when ``event`` happens in this script run (seconds since the
    run started, and whether torch was imported by then); bench/dashboard_speed.py reads these lines."""
    if os.environ.get(TIMING_ENV):
        import sys

        started = st.session_state.get("_run_started", time.perf_counter())
        print(f"kgcore-dashboard-mark event={event!r} seconds={time.perf_counter() - started:.3f} "
              f"torch={'torch' in sys.modules}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- errors
@contextmanager
def guard(what: str = "this part of the page") -> Iterator[None]:
    """Show problems as messages, never as tracebacks. Streamlit's own stop/rerun signals pass through
    (they are BaseExceptions, not Exceptions)."""
    try:
        yield
    except KGError as exc:
        st.error(str(exc), icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 - the dashboard must not show a traceback
        log.exception("dashboard: %s failed", what)
        st.error(f"Something went wrong while drawing {what}: {type(exc).__name__}: {exc}. "
                 "The details are in the terminal running the dashboard; please report them.",
                 icon=":material/error:")


def value_colour(index: int) -> str:
    return VALUE_COLOURS[index % len(VALUE_COLOURS)]


@st.cache_data(show_spinner=False, persist="disk")
def _synthetic_text(fingerprint: str) -> str:
    from kgcore.demo import SYNTHETIC_NOTICE

    return SYNTHETIC_NOTICE


@st.cache_data(show_spinner=False, persist="disk")
def _skew_rows(fingerprint: str) -> list[dict]:
    from kgcore.demo import skew_table

    return skew_table()


def demo_skews():
    """kgcore.demo's table of profession skews and their sources (kept on disk like the notice)."""
    import pandas as pd

    return pd.DataFrame(_skew_rows(code_fingerprint("kgcore.demo")))


def synthetic_notice() -> None:
    """kgcore.demo's notice (read once and kept on disk: importing kgcore.demo imports torch)."""
    st.info(f"**Synthetic data.** {_synthetic_text(code_fingerprint('kgcore.demo'))}", icon=":material/science:")


def code_fingerprint(*modules: str) -> str:
    """Size and modification time of modules' source files, found without importing them: part of the
    keys of results kept on disk, so that a changed generator never serves stale numbers. A package
    (``kgcore.demo``) counts every module in its folder, not only its ``__init__``."""
    import importlib.util

    parts = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        if not origin or not os.path.exists(origin):
            continue
        if spec.submodule_search_locations is None:
            sources = [(name, Path(origin))]
        else:
            sources = [(f"{name}/{path.name}", path) for path in sorted(Path(origin).parent.glob("*.py"))]
        for label, path in sources:
            stat = path.stat()
            parts.append(f"{label}:{stat.st_size}:{stat.st_mtime_ns}")
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
    return code_fingerprint("kgcore.graph", "kgcore.datasets", "kgcore.demo", "kgcore.spec", "kgcore.triples")


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def display_scale(values) -> tuple[float, str]:
    """A power of ten that brings tiny scores (B is about 1e-4 with kgcore's default step) to readable
    numbers, and its label, e.g. (1e4, "×10⁻⁴"): shown values are value * factor."""
    import math

    finite = [abs(float(v)) for v in values if v == v and math.isfinite(float(v))]
    largest = max(finite, default=0.0)
    if largest == 0.0:
        return 1.0, ""
    exponent = math.floor(math.log10(largest))
    if -2 <= exponent <= 2:
        return 1.0, ""
    return 10.0 ** (-exponent), f"×10{str(exponent).translate(_SUPERSCRIPT)}"


def example_person(recorded, graph, attribute: str) -> int:
    """Position in ``recorded`` (people with a value of ``attribute``, from results.people_index) of a telling
    first example: someone recorded with the second most common value who holds the profession where that
    value's share in the graph is highest (on the demo world, a woman in a mostly female profession)."""
    table = graph.attribute_table(attribute)
    values = list(table.value_labels)
    if len(values) < 2 or "professions" not in recorded or recorded.empty:
        return 0
    counts = graph.target_counts(attribute)
    counted = counts[counts["people"] >= 10] if (counts["people"] >= 10).any() else counts
    column = counts.columns[3 + 1]  # C_<second value>, by position (labels may repeat)
    share = counted[column] / counted["people"].clip(lower=1)
    skewed = counted.loc[share.idxmax(), "label"]
    holds = recorded["professions"].str.split(", ").apply(lambda held: skewed in held)
    candidates = recorded[(recorded[attribute] == values[1]) & holds]
    return int(recorded.index.get_loc(candidates.index[0])) if not candidates.empty else 0
