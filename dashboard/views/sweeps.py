"""Sweeps: the debiasing paper's Figures 3-4 and Table 1 from a sweep written by ``python -m kgcore sweep``
under the runs folder (difference in scores, classifier accuracy and MRR against the KL weight)."""
import streamlit as st

from discovery import runs_root
from kgcore.errors import KGError
from kgcore.figures.sweep import sweep_figure
from kgcore.sweep import find_sweeps, load_summary, read_plan, sweep_points, weight_column

st.title("Sweeps")
st.markdown("A sweep trains one model per KL weight (and seed): what is left of an attribute, and how well the "
            "model fills in missing facts, against the weight. Each point is the mean over the seeds, the bars "
            "their standard deviation. Write one with `python -m kgcore sweep --out runs/sweeps/NAME ...`.")
root = runs_root()
sweeps = find_sweeps(root)
if not sweeps:
    st.info(f"No sweep found under {root}. Run e.g. `python -m kgcore sweep --dataset demo --preset fisher2020 "
            f"--model kl --debias gender --grid kl-weight=gender=0,1,10,100 --seeds 0,1,2 "
            f"--out {root / 'sweeps' / 'wkl'}`.")
    st.stop()
chosen = st.selectbox("Sweep", sweeps, format_func=lambda p: str(p.relative_to(root)), key="sweep_folder")
plan = read_plan(chosen)
summary = load_summary(chosen)
st.caption(f"{len(summary)} runs; varied: " + ", ".join(f"{k} ({len(v)} values)" for k, v in plan["grid"].items())
           + (f"; fixed: `{' '.join(plan['fixed'])}`" if plan.get("fixed") else ""))
attributes = [a for a in plan.get("attributes", []) if weight_column(summary, a)]
if not attributes:
    st.warning("This sweep does not vary a KL weight of a measured attribute; its table is below.")
else:
    attribute = st.selectbox("Attribute", attributes, key="sweep_attr")
    try:
        points = sweep_points(summary, attribute)
    except KGError as exc:
        st.warning(str(exc))
    else:
        st.plotly_chart(sweep_figure(points, attribute), key="sweep_figure")
        st.subheader("Table 1: mean (standard deviation) over the runs of each weight")
        st.dataframe(points.rename(columns={"x": f"w_KL ({attribute})"}), hide_index=True, width="stretch")
st.subheader("Every run")
st.dataframe(summary, hide_index=True, width="stretch")
