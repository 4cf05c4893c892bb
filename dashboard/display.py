"""Display helpers shared by the pages: readable units for tiny scores, a telling first person for the
pickers, and the demo world's notice and sources (read from kgcore.demo and kept on disk)."""
from __future__ import annotations

import streamlit as st

from loaders import code_fingerprint

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def display_scale(values) -> tuple[float, str]:
    """A power of ten that brings tiny scores (B is about 1e-4 with kgcore's default step) to readable
    numbers, and its label, e.g. (1e4, "×10⁻⁴"): shown values are value * factor."""
    import math

    finite = [abs(float(v)) for v in values if v == v and math.isfinite(float(v))]
    largest = max(finite, default=0.0)
    if largest == 0.0:
        return 1.0, ""
    exponent = math.floor(math.log10(largest))
    if -2 <= exponent <= 2:
        return 1.0, ""
    return 10.0 ** (-exponent), f"×10{str(exponent).translate(_SUPERSCRIPT)}"


def example_person(recorded, graph, attribute: str) -> int:
    """Position in ``recorded`` (people with a value of ``attribute``, from results.people_index) of a telling
    first example: someone recorded with the second most common value who holds the profession where that
    value's share in the graph is highest (on the demo world, a woman in a mostly female profession)."""
    table = graph.attribute_table(attribute)
    values = list(table.value_labels)
    if len(values) < 2 or "professions" not in recorded or recorded.empty:
        return 0
    counts = graph.target_counts(attribute)
    counted = counts[counts["people"] >= 10] if (counts["people"] >= 10).any() else counts
    column = counts.columns[3 + 1]  # C_<second value>, by position (labels may repeat)
    share = counted[column] / counted["people"].clip(lower=1)
    skewed = counted.loc[share.idxmax(), "label"]
    holds = recorded["professions"].str.split(", ").apply(lambda held: skewed in held)
    candidates = recorded[(recorded[attribute] == values[1]) & holds]
    return int(recorded.index.get_loc(candidates.index[0])) if not candidates.empty else 0


# ---------------------------------------------------------------------------------------------- the demo world
@st.cache_data(show_spinner=False, persist="disk")
def _synthetic_text(fingerprint: str) -> str:
    from kgcore.demo import SYNTHETIC_NOTICE

    return SYNTHETIC_NOTICE


@st.cache_data(show_spinner=False, persist="disk")
def _skew_rows(fingerprint: str) -> list[dict]:
    from kgcore.demo import skew_table

    return skew_table()


def demo_skews():
    """kgcore.demo's table of profession skews and their sources (kept on disk like the notice)."""
    import pandas as pd

    return pd.DataFrame(_skew_rows(code_fingerprint("kgcore.demo")))


def synthetic_notice() -> None:
    """kgcore.demo's notice (read once and kept on disk: importing kgcore.demo imports torch)."""
    st.info(f"**Synthetic data.** {_synthetic_text(code_fingerprint('kgcore.demo'))}", icon=":material/science:")
