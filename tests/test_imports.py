"""Every kgcore module imports on its own in a fresh interpreter (an import cycle shows up only when a module
is the first one imported), and the places the dashboard's sidebar reads stay free of torch."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import kgcore

MODULES = sorted(m.name for m in pkgutil.walk_packages(kgcore.__path__, "kgcore.") if not m.name.endswith("__main__"))


@pytest.mark.slow
def test_every_module_imports_first():
    script = ("import importlib, subprocess, sys\n"
              "bad = []\n"
              "for name in sys.argv[1:]:\n"
              "    r = subprocess.run([sys.executable, '-c', f'import {name}'], capture_output=True, text=True)\n"
              "    if r.returncode: bad.append((name, r.stderr.strip().splitlines()[-1]))\n"
              "print(bad)\n")
    result = subprocess.run([sys.executable, "-c", script, *MODULES], capture_output=True, text=True, timeout=600)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
    assert len(MODULES) > 40


def _fresh_interpreter(*lines: str) -> str:
    """What ``lines`` print when run in a new interpreter (so no earlier import hides what they import)."""
    result = subprocess.run([sys.executable, "-c", "\n".join(lines)], capture_output=True, text=True)
    assert not result.returncode, result.stderr
    return result.stdout.strip()


def test_sidebar_places_import_without_torch():
    assert _fresh_interpreter("import sys, kgcore.data.locations, kgcore.errors",
                              "print('torch' in sys.modules)") == "False"


def test_the_demo_worlds_settings_and_notice_import_without_torch():
    """The Overview's first page reads these; the generator (which builds a KnowledgeGraph) loads on first use."""
    assert _fresh_interpreter(
        "import sys",
        "from kgcore.demo import DEFAULT_WHITELIST, SYNTHETIC_NOTICE, DemoWorldConfig, skew_table",
        "skew_table(); DemoWorldConfig().to_dict()",
        "light = 'torch' not in sys.modules",
        "from kgcore.demo import demo_graph",
        "print(light, 'torch' in sys.modules, callable(demo_graph))") == "True True True"


def test_the_overview_reads_the_shipped_demo_overview_without_torch():
    """The dashboard's first page on a first-ever start: the demo world's sizes and counts come from the assets,
    without generating the world (which imports torch)."""
    dashboard = Path(__file__).resolve().parents[1] / "dashboard"
    assert _fresh_interpreter(
        "import sys, logging",
        "logging.disable(logging.WARNING)",  # Streamlit's notes on caches used outside a running app
        f"sys.path.insert(0, {str(dashboard)!r})",
        "from discovery import demo_data_json, shipped_overview",
        "from kgcore.data.overview import attribute_counts",
        "overview = shipped_overview(demo_data_json())",
        "values, people, missing = attribute_counts(overview, 'gender')",
        "print(values, overview['people'] == sum(people) + missing, 'torch' in sys.modules)",
    ) == "['male', 'female'] True False"


def test_the_model_catalogue_imports_without_torch_and_matches_the_registry():
    assert _fresh_interpreter(
        "import sys",
        "from kgcore.models.catalogue import CATALOGUE",
        "light = 'torch' not in sys.modules",
        "from kgcore.models import MODELS",
        "same = [(e.name, e.label, e.colour, e.debiasing) for e in MODELS.values()] == "
        "[(f.name, f.label, f.colour, f.debiasing) for f in CATALOGUE.values()]",
        "print(light, same)") == "True True"
