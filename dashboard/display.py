"""Display helpers shared by the pages: readable units for tiny scores, a telling first person for the
pickers, and the demo world's notice and sources (from kgcore.demo, whose settings and texts import no torch)."""
from __future__ import annotations

import streamlit as st

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
def demo_skews():
    """kgcore.demo's table of profession skews and their sources."""
    import pandas as pd

    from kgcore.demo import skew_table  # torch-free: the demo world's generator loads only when used

    return pd.DataFrame(skew_table())


def synthetic_notice() -> None:
    """The demo world's notice, at the top of the pages that show it."""
    from kgcore.demo import SYNTHETIC_NOTICE

    st.info(f"**Synthetic data.** {SYNTHETIC_NOTICE}", icon=":material/science:")


# ---------------------------------------------------------------------------------------------- the browser
PRELOAD_KEY = "plotly_preload"


def preload_plotly() -> None:
    """An empty plotly figure in a hidden box, drawn last on the Overview. The Overview's own chart is Vega-Lite
    (which Streamlit's front end holds already, so a launch's first chart waits for no plotly bundle); this
    makes the browser fetch and start plotly's bundle while people read the page, so the first results page
    does not wait for it."""
    import plotly.graph_objects as go

    st.html(f"<style>.st-key-{PRELOAD_KEY} {{display: none;}}</style>")
    with st.container(key=PRELOAD_KEY):
        st.plotly_chart(go.Figure(), key=PRELOAD_KEY + "_figure", config={"staticPlot": True})
