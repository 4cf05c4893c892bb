"""End to end in a real browser: ``streamlit run dashboard/app.py`` on 127.0.0.1, driven by Debian's
Chromium through playwright at 1440x900. Visits every page, plays the embedding-shift animation (checking
that the person travels and that every frame changes something), checks that no table scrolls sideways and
that "female" has one colour on every page and on an uploaded graph, downloads the professions CSV and uploads a malformed triples
file. Screenshots go to ``test-artifacts/`` (gitignored).

Skipped when /usr/bin/chromium (or playwright) is missing, except under CI=true, where that is a failure.
Cold start (process launch to the first chart) and page switches are printed, not asserted.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
STARTUP_TIMEOUT_S = 90
# Generous: a results page may train the small fallback model on first use when no assets are installed.
PAGE_TIMEOUT_MS = 180_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _require_browser():
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} not found (Debian: apt-get install chromium)"
    else:
        import importlib.util

        if importlib.util.find_spec("playwright") is None:
            missing = "the playwright package is not installed (pip install playwright)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"The browser test must run under CI, but {missing}.")
        pytest.skip(missing)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real Streamlit server on a free port, with an empty user runs folder."""
    _require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    runs = tmp_path_factory.mktemp("runs")
    port = _free_port()
    env = {**os.environ, "KGCORE_RUNS": str(runs), "PYTHONUNBUFFERED": "1"}
    log_path = ARTIFACTS / "streamlit-server.log"
    log = log_path.open("w")
    launched = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"streamlit did not start; see {log_path}:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield {"url": url, "launched": launched, "runs": runs}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def _settled(page, timeout: int = PAGE_TIMEOUT_MS) -> None:
    """Wait until the script run has finished (Streamlit marks the app root) and every element is drawn (no
    placeholder left while a chart's or table's bundle loads)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout)


def _no_exceptions(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.first.inner_text()


def _goto(page, title: str, marker: str) -> float:
    """Click a page in the sidebar navigation and wait for ``marker`` text; returns seconds taken."""
    started = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_text(marker, exact=False).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    _settled(page)
    return time.perf_counter() - started


def _shot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to its height first."""
    size = page.viewport_size
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height) + 40, 6000))})
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.set_viewport_size(size)


# Colours given to the value "female" by the page's charts: in plotly figures a trace named after it, bars or
# points labelled with it (colour arrays), and annotations that name it; in Vega-Lite charts (the Overview's)
# the bars whose description names it.
FEMALE_COLOURS = """() => { const out = [];
  for (const bar of document.querySelectorAll('[data-testid="stVegaLiteChart"] path[aria-roledescription="bar"]'))
    if (/: female;/.test(bar.getAttribute('aria-label') || '')) out.push(bar.getAttribute('fill'));
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    for (const t of gd.data) {
      const c = t.marker && t.marker.color;
      if (t.name === 'female' && typeof c === 'string') out.push(c);
      for (const key of ['x', 'y', 'text']) {
        if (Array.isArray(t[key]) && Array.isArray(c))
          t[key].forEach((v, i) => { if (v === 'female') out.push(c[i]); });
      }
    }
    for (const a of (gd.layout.annotations || []))
      if (/\\bfemale\\b/.test(a.text || '') && a.font && a.font.color) out.push(a.font.color);
  }
  return out; }"""

# The Overview's chart (Vega-Lite) drawn, or any plotly figure.
FIRST_CHART = '[data-testid="stVegaLiteChart"] svg, .js-plotly-plot'

# Tables whose content is wider than their box (Streamlit's data grid scrolls inside .dvn-scroller).
WIDE_TABLES = """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller'))
  .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
  .map(el => [el.scrollWidth, el.clientWidth])"""

# The embedding-shift figure's frames: the person's x in each frame (the star trace), the map's x range,
# each frame's data as text, and where Play is on the screen.
SHIFT_FRAMES = """() => { const gd = document.querySelector('.js-plotly-plot');
  const frames = gd._transitionData._frames;
  const star = frames[0].data.findIndex(t => t.marker && t.marker.symbol === 'star');
  const range = gd._fullLayout.xaxis.range;
  const play = Array.from(gd.querySelectorAll('.updatemenu-button')).find(b => b.textContent.includes('Play'));
  return {xs: frames.map(f => f.data[star].x[0]), width: range[1] - range[0],
          frames: frames.map(f => JSON.stringify(f.data)), play: play.getBoundingClientRect().bottom}; }"""


def _page_checks(page, name: str, female: dict) -> None:
    """No table wider than its box; the colours of "female" on this page."""
    wide = page.evaluate(WIDE_TABLES)
    assert not wide, f"{name}: a table scrolls sideways (scrollWidth, clientWidth): {wide}"
    found = set(page.evaluate(FEMALE_COLOURS))
    if found:
        female[name] = found


def test_every_page_in_a_real_browser(server, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(server["url"])
    page.locator(FIRST_CHART).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    cold = time.perf_counter() - server["launched"]
    _settled(page)
    _no_exceptions(page)
    assert page.get_by_text("Synthetic data", exact=False).first.is_visible()
    assert page.get_by_text("People by recorded gender").first.is_visible()
    female: dict[str, set] = {}
    _page_checks(page, "overview", female)
    _shot(page, "01-overview")
    timings = {"cold start to first chart": cold}

    # Professions: the two lists, the charts, and the CSV download.
    timings["professions (first visit)"] = _goto(page, "Professions", "Most male-associated")
    _no_exceptions(page)
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=PAGE_TIMEOUT_MS)
    _page_checks(page, "professions", female)
    _shot(page, "02-professions")
    with page.expect_download() as download_info:
        page.get_by_text("Download all professions as CSV").click()
    download = download_info.value
    target = ARTIFACTS / download.suggested_filename
    download.save_as(str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) >= 20
    assert {"label", "people", "C_male", "C_female", "B_male", "B_female"} <= set(rows[0])
    assert all(int(r["people"]) >= 10 for r in rows)

    # Embedding shift: Play and the map in the first screen; the person travels at least a quarter of the map's
    # width; no two consecutive frames are the same; playing moves the star in the browser (no rerun).
    timings["embedding shift (first visit)"] = _goto(page, "Embedding shift", "Ranking before and after")
    _no_exceptions(page)
    page.locator('[data-testid="stMain"]').evaluate("el => el.scrollTo(0, 0)")
    shift = page.evaluate(SHIFT_FRAMES)
    assert shift["play"] <= 900, f"Play is below the first screen (bottom at {shift['play']:.0f} px)"
    travel = abs(shift["xs"][-1] - shift["xs"][0])
    assert travel >= shift["width"] / 4, f"the person moves {travel:.3g} of a {shift['width']:.3g} wide map"
    assert all(a != b for a, b in zip(shift["frames"], shift["frames"][1:])), "two consecutive frames are the same"
    _page_checks(page, "embedding shift", female)
    page.screenshot(path=str(ARTIFACTS / "03-shift-first-screen.png"))
    _shot(page, "03-shift-start")
    state = ("() => { const gd = document.querySelector('.js-plotly-plot');"
             " const star = gd.data.findIndex(t => t.marker && t.marker.symbol === 'star');"
             " return [gd._fullLayout.sliders[0].active, gd.data[star].x[0], gd.data[star].y[0]]; }")
    start = page.evaluate(state)
    assert start[0] == 0
    chart = page.locator(".js-plotly-plot").first
    chart.locator(".updatemenu-button").filter(has_text="Play").click()
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')._fullLayout.sliders[0].active >= 3",
                           timeout=30_000)
    page.wait_for_timeout(1500)
    playing = page.evaluate(state)
    assert playing[0] > start[0]
    assert (playing[1], playing[2]) != (start[1], start[2]), "the person did not move"
    _shot(page, "04-shift-playing")

    timings["compare models (first visit)"] = _goto(page, "Compare models", "The table")
    _no_exceptions(page)
    page.get_by_text("All numbers (technical names)").click()  # the details table must fit too
    page.wait_for_timeout(500)
    _page_checks(page, "compare", female)
    _shot(page, "05-compare")

    timings["ask the model (first visit)"] = _goto(page, "Ask the model", "Changed in the top 10")
    _no_exceptions(page)
    _page_checks(page, "ask", female)
    _shot(page, "06-ask")
    # One colour for "female" wherever it is drawn.
    assert {"overview", "professions", "embedding shift", "compare"} <= set(female), female
    assert len(set().union(*female.values())) == 1, female

    # Train: a malformed upload gets a clear error, not a traceback.
    timings["train (first visit)"] = _goto(page, "Train", "Use your own knowledge graph")
    _no_exceptions(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(files=[{
        "name": "broken.tsv", "mimeType": "text/tab-separated-values",
        "buffer": b"alice\tgender\tfemale\nbob gender male\n"}])
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for(timeout=60_000)
    text = error.inner_text()
    assert "broken.tsv, line 2" in text and "tab-separated" in text
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, "07-train-bad-upload")

    # Page switches once every page has been drawn (cached results).
    for title, marker in (("Overview", "People by recorded gender"), ("Professions", "Most male-associated"),
                          ("Embedding shift", "Ranking before and after"), ("Compare models", "The table"),
                          ("Ask the model", "Changed in the top 10")):
        timings[f"switch to {title.lower()}"] = _goto(page, title, marker)
        _no_exceptions(page)

    # An uploaded graph in which women are the larger group: "female" keeps the demo's colour (by value, not by
    # position in the chart).
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Train", exact=True).click()
    page.get_by_text("Use your own knowledge graph").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    _settled(page)
    people = [(f"p{i}", "female" if i % 3 else "male", ("nurse", "engineer", "teacher")[i % 3]) for i in range(30)]
    upload = "".join(f"{p}\tgender\t{g}\n{p}\toccupation\t{o}\n" for p, g, o in people).encode()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(files=[{
        "name": "women-first.tsv", "mimeType": "text/tab-separated-values", "buffer": upload}])
    page.get_by_text("Create dataset").first.wait_for(timeout=60_000)
    _settled(page)
    page.get_by_role("button", name="Create dataset").click()
    # The new graph is selected (it has no runs yet); the Overview names it.
    page.locator('[data-testid="stSidebar"]').get_by_text("No trained models for this graph yet").first.wait_for(
        timeout=PAGE_TIMEOUT_MS)
    _settled(page)
    _goto(page, "Overview", "People by recorded gender")
    _no_exceptions(page)
    assert page.get_by_text("The knowledge graph: women-first").first.is_visible()
    _page_checks(page, "uploaded graph", female)
    _shot(page, "08-uploaded-overview")
    assert female["uploaded graph"] == female["overview"], female

    report = "\n".join(f"  {name}: {seconds:.2f} s" for name, seconds in timings.items())
    (ARTIFACTS / "timings.txt").write_text(report + "\n")
    print("\nbrowser timings\n" + report)
    context.close()


def test_browser_artifacts_folder_is_ignored_by_git():
    """Screenshots must never be committed: test-artifacts/ is in .gitignore."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", "test-artifacts/x.png"], cwd=ROOT)
    assert result.returncode == 0
