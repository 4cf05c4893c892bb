"""Problems as messages, never tracebacks (``guard``), and the timing marks bench/dashboard_speed.py reads
(``mark``)."""
from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from kgcore.errors import KGError

TIMING_ENV = "KGCORE_DASHBOARD_TIMING"

log = logging.getLogger("kgcore.dashboard")


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


def mark(event: str) -> None:
    """With $KGCORE_DASHBOARD_TIMING set, print when ``event`` happens in this script run (seconds since the
    run started, and whether torch was imported by then); bench/dashboard_speed.py reads these lines."""
    if os.environ.get(TIMING_ENV):
        import sys

        started = st.session_state.get("_run_started", time.perf_counter())
        print(f"kgcore-dashboard-mark event={event!r} seconds={time.perf_counter() - started:.3f} "
              f"torch={'torch' in sys.modules}", file=sys.stderr, flush=True)
