"""``python -m kgcore report``: one self-contained HTML hand-out (no external scripts) with the comparison
table, same-side top lists with counts, and the animated embedding shift, for a pretrained demo run."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kgcore.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO_RUN = ROOT / "assets" / "demo" / "transe"


@pytest.mark.skipif(not (DEMO_RUN / "model.pt").exists(), reason="the pretrained demo runs are not installed")
def test_report_is_one_offline_html_file(tmp_path, capsys):
    out = tmp_path / "hand-out.html"
    assert main(["report", str(DEMO_RUN), "--out", str(out), "--top", "5"]) == 0
    assert "wrote" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    # Self-contained: the plotly library is inline and nothing is fetched from elsewhere.
    assert "Plotly" in text and not re.search(r"<script[^>]+src=", text)
    assert "The models side by side" in text and "fills in missing facts (MRR)" in text
    assert "Most female-associated" in text and "Most male-associated" in text and "Base rate in this graph" in text
    # The shift figure is animated in the file (plotly frames, played in the browser), first frame step 0.
    assert "Plotly.addFrames(" in text and '"name":"0","traces"' in text
    assert "Gender is recorded as binary" in text


def test_report_needs_an_attribute_of_the_graph(tmp_path, capsys):
    if not (DEMO_RUN / "model.pt").exists():
        pytest.skip("the pretrained demo runs are not installed")
    assert main(["report", str(DEMO_RUN), "--out", str(tmp_path / "r.html"), "--attribute", "shoe size"]) == 2
    assert "not an attribute" in capsys.readouterr().err
