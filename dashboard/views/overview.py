"""Overview: what knowledge graph embeddings are, what the three models do, and what is loaded."""
import streamlit as st

import display
import results
import sidebar
import vega
from messages import guard, mark
from model_info import described_models, model_blurb, model_label

from kgcore.data.overview import attribute_counts

ctx = sidebar.context()
summary_data = ctx.dataset.data_json

st.title("Social bias in knowledge graph embeddings")
st.markdown("**A computer model that learns from a database of facts about people also picks up who, in that "
            "database, holds which job. This dashboard shows which jobs a model links with gender (and other "
            "recorded values), and what two repair methods change.**")
st.markdown(
    "A **knowledge graph** stores facts as triples such as *(Ada, occupation, nurse)* or *(Ada, gender, "
    "female)*. An **embedding model** turns every person, profession and relation into a list of numbers (a "
    "vector) so that it can guess missing facts. Models learn the patterns of the graph they read — including "
    "who, in that graph, holds which profession. This dashboard shows what a model associates with a "
    "sensitive attribute such as gender, and how two debiasing methods change that.")
if ctx.dataset.synthetic:
    display.synthetic_notice()

with guard("the dataset summary"):
    summary = results.graph_summary(summary_data)
    st.subheader(f"The knowledge graph: {ctx.dataset.label}")
    cols = st.columns(5)
    cols[0].metric("Entities", f"{summary['entities']:,}")
    cols[1].metric("Relations", f"{summary['relations']:,}")
    cols[2].metric("Training triples", f"{summary['train_triples']:,}",
                   help=f"valid {summary['valid_triples']:,} · test {summary['test_triples']:,}")
    cols[3].metric("People", f"{summary['people']:,}")
    cols[4].metric(f"{summary['target_name'].capitalize()}s", f"{summary['professions']:,}")

    if summary["attributes"]:
        left, right = st.columns([3, 2], gap="large")
        with right:
            default = summary["attributes"].index("gender") if "gender" in summary["attributes"] else 0
            attribute = st.selectbox("Sensitive attribute", summary["attributes"], index=default,
                                     key="overview_attribute")
            values, people, missing = attribute_counts(summary, attribute)
        with left:  # the first chart: Vega-Lite, drawn before plotly or pandas is imported (see vega.py)
            st.vega_lite_chart(vega.value_counts(values, people, missing, attribute), key="overview_counts")
            mark("overview chart")
        with right:
            import pandas as pd

            st.dataframe(pd.DataFrame({attribute: values, "people": people}), hide_index=True,
                         height=min(35 * (len(values) + 1) + 3, 300),
                         column_config={"people": st.column_config.NumberColumn("people", format="%d")})
            if len(values) >= 2:
                ratio = people[0] / max(people[1], 1)
                st.caption(f"In this graph {values[0]} outnumbers {values[1]} {ratio:.1f} to 1; "
                           f"{missing:,} people have no {attribute} recorded.")
            if attribute == "gender":
                st.caption("Gender in these data is recorded with two values only; the charts describe the "
                           "records, not the people.")
    else:
        st.info("This graph's spec names no sensitive attribute; upload it again on the Train page and name one.")

st.subheader("The three models")
cols = st.columns(3)
for col, name in zip(cols, described_models()):
    with col.container(border=True):
        st.markdown(f"**{model_label(name)}**")
        st.write(model_blurb(name))

st.subheader("How bias is measured")
st.markdown(
    "For every person, the model's vector is nudged a little towards one value of the attribute (say, "
    "*female*), and we watch which professions become more or less plausible for that person. Averaged over "
    "everyone, this gives each profession a **bias score B**: positive means that, for this model, moving a "
    "person towards that value makes the profession more likely (Fisher et al., 2020). The *Professions* page "
    "lists the scores, *Embedding shift* animates the nudge for one person, *Compare models* sets the models "
    "side by side, and *Ask the model* flips one person's recorded gender and shows what changes.")

st.subheader("Loaded runs")
import pandas as pd  # noqa: E402

if ctx.all_runs:
    rows = []
    for run in ctx.all_runs:
        rows.append({"selected": run in ctx.runs, "model": run.model_label, "run": run.name, "dimension": run.dim,
                     "epochs": run.epochs, "source": run.origin, "folder": run.path})
    st.dataframe(pd.DataFrame(rows), hide_index=True,
                 column_config={"selected": st.column_config.CheckboxColumn("in use")})
else:
    st.info("No trained models for this graph yet. Open any results page to train a small one, or use the "
            "**Train** page.")

if ctx.dataset.synthetic:
    with st.expander("Where the demo world's figures come from"):
        skews = display.demo_skews()[["label", "female_share", "legitimate", "source"]]
        st.dataframe(skews, hide_index=True, column_config={
            "label": "profession",
            "female_share": st.column_config.ProgressColumn("share of women", format="percent", min_value=0,
                                                            max_value=1),
            "legitimate": st.column_config.CheckboxColumn("whitelisted"),
        })

display.preload_plotly()  # last: the results pages then find plotly loaded in the browser
