"""The dashboard's training jobs (dashboard/jobs.py): a run stopped early and kept is named after the epochs
it actually trained."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_run_stopped_early_is_named_after_the_epochs_it_trained():
    sys.path.insert(0, str(ROOT / "dashboard"))
    from jobs import name_for_epochs

    assert name_for_epochs("kl-64d-200ep", 200, 5) == "kl-64d-5ep"
    assert name_for_epochs("transe-transe-l1-32d-30ep-withheld", 30, 7) == "transe-transe-l1-32d-7ep-withheld"
    assert name_for_epochs("my-run", 200, 5) == "my-run"  # a name the user chose stays
    assert name_for_epochs("kl-64d-200ep", 200, 200) == "kl-64d-200ep"
