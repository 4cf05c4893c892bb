"""Measure the dashboard's speed in a real browser and print the figures (no assertions).

    python bench/dashboard_speed.py [--repeats 2] [--baseline] [--fresh-cache]

For each repeat: launch ``streamlit run dashboard/app.py`` (headless, 127.0.0.1), open it in Chromium
(playwright, /usr/bin/chromium) and time

- cold start: process launch -> the Overview's first chart visible in the browser (also: server ready, and
  the script's own time to draw the page, from the ``KGCORE_DASHBOARD_TIMING`` lines the app prints);
- first visit of every page (results computed and cached), then page switches (cached): click in the
  navigation -> the page's marker text visible, the script run finished and its charts drawn;
- attribute switches on Professions and Compare (gender -> ethnicity, first time, so not cached in the
  session): option clicked -> the script run finished.

``--baseline`` times the same cold start for one-chart Streamlit apps: the floor this machine sets for any
Streamlit page with a plotly chart, and for one with a Vega-Lite chart (the Overview's). ``--fresh-cache``
gives the server an empty home folder, so Streamlit's disk caches (the Overview's summary, read without torch
on later starts) start empty: a first-ever start.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
LIMIT_S = 300  # a wait longer than this is recorded as "over 300 s"
PAGES = (("Professions", "Most male-associated"), ("Embedding shift", "Ranking before and after"),
         ("Compare models", "The table"), ("Ask the model", "Changed in the top 10"),
         ("Train", "Use your own knowledge graph"), ("Overview", "People by recorded gender"))
# (page, its marker text, the attribute selectbox's label, the value switched to)
ATTRIBUTE_SWITCHES = (("Professions", "Most male-associated", "Attribute", "ethnicity"),
                      ("Compare models", "The table", "Attribute", "ethnicity"))
FIRST_CHART = '[data-testid="stVegaLiteChart"] svg, .js-plotly-plot'  # a Vega-Lite chart (the Overview's) or plotly
BASELINE_APP = """import streamlit as st
import plotly.graph_objects as go
st.title("baseline")
st.plotly_chart(go.Figure(go.Bar(x=["a", "b"], y=[3, 1])))
"""
BASELINE_VEGA_APP = """import streamlit as st
st.title("baseline")
st.vega_lite_chart({"layer": [{"data": {"values": [{"x": "a", "y": 3}, {"x": "b", "y": 1}]}, "mark": "bar",
    "encoding": {"x": {"field": "x", "type": "nominal"}, "y": {"field": "y", "type": "quantitative"}}}]})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(script: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return process, url, time.perf_counter()
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"streamlit exited; see {log}")
            time.sleep(0.05)


def settled(page) -> None:
    """The script run has finished and every element is drawn (no placeholder left while a chart library's
    bundle loads)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=LIMIT_S * 1000)
    page.wait_for_function('() => !document.querySelector(\'[data-testid="stSkeleton"]\')', timeout=LIMIT_S * 1000)


def script_times(log: Path) -> list[float]:
    return [float(x) for x in re.findall(r"kgcore-dashboard-timing page=.* seconds=([0-9.]+)", log.read_text())]


def visit(page, title: str, marker: str) -> float:
    started = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_text(marker).first.wait_for(timeout=LIMIT_S * 1000)
    settled(page)
    return time.perf_counter() - started


def choose(page, label: str, option: str) -> float:
    """Pick ``option`` in the selectbox labelled ``label``; seconds until the script run has finished."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text(label, exact=True)).first
    box.click()
    started = time.perf_counter()
    page.get_by_role("option", name=option, exact=True).click()
    page.wait_for_timeout(100)  # the rerun starts
    settled(page)
    return time.perf_counter() - started


def measure(browser, script: str, env: dict[str, str], pages: bool, log: Path) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    launched = time.perf_counter()
    process, url, ready = launch(script, env, log)
    try:
        page.goto(url)
        page.locator(FIRST_CHART).first.wait_for(timeout=LIMIT_S * 1000)
        figures = {"server ready": ready - launched, "cold start to first chart": time.perf_counter() - launched}
        settled(page)
        if script_times(log):
            figures["script time of the first page"] = script_times(log)[0]
        if pages:
            for rounds, label in ((1, "first visit"), (2, "switch")):
                for title, marker in PAGES:
                    figures[f"{label}: {title}"] = visit(page, title, marker)
            runs = script_times(log)
            switches = runs[-len(PAGES):]
            figures["script time of a page switch (max)"] = max(switches)
            from playwright.sync_api import TimeoutError as Timeout

            for title, marker, box, option in ATTRIBUTE_SWITCHES:
                try:
                    visit(page, title, marker)
                    figures[f"attribute switch: {title} -> {option}"] = choose(page, box, option)
                except Timeout:  # recorded as over the limit; the next measurement starts from a fresh page
                    figures[f"attribute switch: {title} -> {option}"] = math.inf
                    page.goto(url)
                    settled(page)
        return figures
    finally:
        process.terminate()
        process.wait(timeout=20)
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline", action="store_true", help="also time a one-chart Streamlit app")
    parser.add_argument("--fresh-cache", action="store_true", help="empty Streamlit disk caches (new home folder)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="kgcore-speed-"))
    env = {**os.environ, "KGCORE_DASHBOARD_TIMING": "1"}
    env.setdefault("KGCORE_RUNS", str(work / "runs"))
    results: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        baselines = {"baseline app (plotly)": work / "baseline.py", "baseline app (Vega-Lite)": work / "vega.py"}
        baselines["baseline app (plotly)"].write_text(BASELINE_APP)
        baselines["baseline app (Vega-Lite)"].write_text(BASELINE_VEGA_APP)
        for repeat in range(args.repeats):
            run_env = dict(env)
            if args.fresh_cache:
                run_env["HOME"] = str(work / f"home-{repeat}")
            figures = measure(browser, "dashboard/app.py", run_env, pages=True, log=work / f"app-{repeat}.log")
            for label, baseline in baselines.items() if args.baseline else ():
                base = measure(browser, str(baseline), run_env, pages=False, log=work / f"base-{repeat}.log")
                figures[f"{label}: cold start to first chart"] = base["cold start to first chart"]
            for name, value in figures.items():
                results.setdefault(name, []).append(value)
        browser.close()
    load = os.getloadavg()
    print(f"dashboard speed, {args.repeats} repeat(s); load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          f"on {os.cpu_count()} CPUs")
    for name, values in results.items():
        shown = ", ".join(f"{v:.2f}" if math.isfinite(v) else f"over {LIMIT_S} s" for v in values)
        print(f"  {name:45s} median {statistics.median(values):6.2f} s   ({shown})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
