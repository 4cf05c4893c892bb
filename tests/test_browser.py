"""End to end in a real browser: ``streamlit run dashboard/app.py`` on 127.0.0.1, driven by Debian's
Chromium through playwright. Visits every page, plays the embedding-shift animation, downloads the
professions CSV and uploads a malformed triples file. Screenshots go to ``test-artifacts/`` (gitignored).

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
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
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
    """Wait until the script run has finished (Streamlit marks the app root)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)


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


def test_every_page_in_a_real_browser(server, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(server["url"])
    page.locator(".js-plotly-plot").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    cold = time.perf_counter() - server["launched"]
    _settled(page)
    _no_exceptions(page)
    assert page.get_by_text("Synthetic data", exact=False).first.is_visible()
    assert page.get_by_text("People by recorded gender").first.is_visible()
    _shot(page, "01-overview")
    timings = {"cold start to first chart": cold}

    # Professions: the two lists, the charts, and the CSV download.
    timings["professions (first visit)"] = _goto(page, "Professions", "Most male-associated")
    _no_exceptions(page)
    assert page.locator(".js-plotly-plot").count() >= 2
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

    # Embedding shift: play the animation and watch the step counter move.
    timings["embedding shift (first visit)"] = _goto(page, "Embedding shift", "Ranking before and after")
    _no_exceptions(page)
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    # The plotly figure: trace 7 is the person (see dashboard/charts.py shift_animation), slider 0 the steps.
    state = ("() => { const gd = document.querySelector('.js-plotly-plot');"
             " return [gd._fullLayout.sliders[0].active, gd.data[7].x[0], gd.data[7].y[0]]; }")
    start = page.evaluate(state)
    assert start[0] == 0
    _shot(page, "03-shift-start")
    chart.locator(".updatemenu-button").filter(has_text="Play").click()
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')._fullLayout.sliders[0].active >= 3",
                           timeout=30_000)
    page.wait_for_timeout(2500)
    playing = page.evaluate(state)
    assert playing[0] > start[0]
    assert (playing[1], playing[2]) != (start[1], start[2]), "the person did not move"
    _shot(page, "04-shift-playing")

    timings["compare models (first visit)"] = _goto(page, "Compare models", "The table")
    _no_exceptions(page)
    _shot(page, "05-compare")

    timings["ask the model (first visit)"] = _goto(page, "Ask the model", "Changed in the top 10")
    _no_exceptions(page)
    _shot(page, "06-ask")

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
