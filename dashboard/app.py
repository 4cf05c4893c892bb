"""kgcore dashboard entry point: ``streamlit run dashboard/app.py``.

This file is the frame around every page: page set-up, the shared sidebar (knowledge graph and runs),
then the page chosen in the navigation. Pages live in ``dashboard/views/`` and only draw what kgcore
computes. (Not ``pages/``: a folder of that name beside the entry point switches Streamlit's AppTest to the
legacy multipage mode on every run, which then runs a page without this frame.)
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()

import streamlit as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # pages import the shared modules beside this file (sidebar, results, charts…)
    sys.path.insert(0, str(HERE))

import sidebar  # noqa: E402
from loaders import finish_warm_up, warm_up  # noqa: E402
from messages import TIMING_ENV, guard  # noqa: E402

st.set_page_config(page_title="KG bias explorer", page_icon=":material/balance:", layout="wide")

PAGES = [
    st.Page("views/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("views/professions.py", title="Professions", icon=":material/work:"),
    st.Page("views/shift.py", title="Embedding shift", icon=":material/animation:"),
    st.Page("views/compare.py", title="Compare models", icon=":material/compare_arrows:"),
    st.Page("views/sweeps.py", title="Sweeps", icon=":material/stacked_line_chart:"),
    st.Page("views/ask.py", title="Ask the model", icon=":material/psychology_alt:"),
    st.Page("views/train.py", title="Train", icon=":material/model_training:"),
]

page = st.navigation(PAGES)
st.session_state["_run_started"] = STARTED
try:
    context = sidebar.prepare()
except Exception as exc:  # noqa: BLE001 - a broken runs folder must not show a traceback
    st.error(f"Could not read the runs and datasets folders: {type(exc).__name__}: {exc}")
    st.stop()
if page.title != PAGES[0].title:  # the Overview needs none of the warm-up's modules
    finish_warm_up()
try:
    with guard(page.title):
        page.run()
finally:  # also when a page stops early (st.stop), so the choices stay reachable
    with guard("the sidebar"):
        sidebar.draw(context)
    warm_up()  # after the page is drawn: the results pages' imports, in the background
if os.environ.get(TIMING_ENV):  # bench/dashboard_speed.py reads these lines
    print(f"kgcore-dashboard-timing page={page.title!r} seconds={time.perf_counter() - STARTED:.3f}",
          file=sys.stderr, flush=True)
