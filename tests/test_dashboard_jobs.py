"""The Train page's jobs reserve a run folder of their own when they start, and say in one sentence what
to do when runs cannot be saved, before any training."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kgcore.errors import KGError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))
import jobs  # noqa: E402  (a dashboard module, imported as the app imports it)


def test_every_job_gets_its_own_folder(tmp_path):
    group = tmp_path / "demo"
    first = jobs.reserve(group, "run")
    second = jobs.reserve(group, "run")  # the first is still training: same name, another folder
    (group / "run-3").mkdir(parents=True)
    third = jobs.reserve(group, "run")
    try:
        assert [r[0] for r in (first, second, third)] == ["run", "run-2", "run-4"]
        assert all(r[2].held for r in (first, second, third))
    finally:
        for reservation in (first, second, third):
            reservation[2].release()
    assert jobs.reserve(group, "run")[0] == "run"  # released and never written: free again


def test_runs_of_a_graph_named_datasets_stay_findable(tmp_path):
    name, folder, lock = jobs.reserve(tmp_path / "datasets", "run")
    lock.release()
    assert folder.parent.name == "datasets-runs"


def test_an_unwritable_runs_folder_is_one_sentence_before_training(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(KGError) as info:
        jobs.reserve(tmp_path / "file" / "demo", "run")
    message = str(info.value)
    assert "KGCORE_RUNS" in message and "--" not in message and "\n" not in message
