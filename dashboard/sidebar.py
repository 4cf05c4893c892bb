"""The choices every page shares: which knowledge graph and which runs. ``prepare`` reads them before the
page is drawn, ``draw`` draws their widgets after it, and ``require_runs`` stops a results page that has
no runs to show (training the small demo model when the demo world has none)."""
from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from discovery import DEMO_KEY, DatasetInfo, RunInfo, available_datasets, discover_runs, runs_root
from fallback import train_fallback_demo_run
from loaders import load_graph, load_run


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


def runs_key(dataset: str) -> str:
    return f"runs::{dataset}"


def select_run_after_rerun(info_path: str, dataset: str) -> None:
    """Make a freshly written run selected the next time the sidebar is drawn."""
    st.session_state.setdefault("_select_next", []).append((dataset, info_path))


def select_dataset_after_rerun(key: str) -> None:
    """Make a dataset (by its key) the sidebar's choice the next time it is drawn."""
    st.session_state["_next_dataset"] = key


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


def draw(ctx: Context) -> None:
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
        labels = {r.path: r.chip for r in ctx.all_runs}
        st.multiselect("Runs (trained models)", list(labels), format_func=lambda p: labels.get(p, p),
                       key=runs_key(ctx.dataset.key), placeholder="No runs selected",
                       help=f"Pretrained runs ship in assets/; runs you train are saved in {runs_root()}.")
        if not ctx.all_runs:
            st.caption("No trained models for this graph yet.")
        elif ctx.runs:
            _colour_key(ctx.runs)
        for problem in ctx.problems[:3]:
            st.caption(f":material/warning: {problem}")


def _colour_key(runs: list[RunInfo]) -> None:
    """Each selected run in full, with the colour every chart gives it (the chips above are short)."""
    import html

    from kgcore.colours import swatch
    from model_info import run_colour_map

    colours = run_colour_map(runs)
    lines = [swatch(colours[r.path], html.escape(r.label)) for r in runs]
    st.markdown("<div style='font-size:0.85rem;line-height:1.5'>" + "<br>".join(lines) + "</div>",
                unsafe_allow_html=True)


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


def require_measurable(ctx: Context, synthetic_note: str = "Synthetic demo world.") -> tuple[list[RunInfo], object, list[str]]:
    """What every page that measures bias starts with: the synthetic-world note, the selected runs
    (``require_runs``), the graph and its sensitive attributes; stops the page, saying why, when the graph's
    spec names no sensitive attribute or no target relation."""
    if ctx.dataset.synthetic:
        st.caption(f":material/science: {synthetic_note}")
    runs = require_runs(ctx)
    graph = ctx.graph()
    attributes = list(graph.spec.attribute_names)
    if not attributes or not graph.spec.target:
        st.error("This graph's spec needs a sensitive attribute and a target relation (profession) to measure "
                 "bias. Upload it again on the Train page and name them.")
        st.stop()
    return runs, graph, attributes


def attribute_box(container, attributes: list[str], key: str, label: str = "Attribute") -> str:
    """A select box of the graph's sensitive attributes, gender first where the graph records it."""
    return container.selectbox(label, attributes, index=attributes.index("gender") if "gender" in attributes else 0,
                               key=key)
