"""Compare models: link prediction quality, bias and attribute leakage of the selected runs side by side."""
import math

import pandas as pd
import streamlit as st

import charts
import results
import sidebar
from kgcore import published
from kgcore.colours import value_colours
from display import display_scale
from model_info import run_colour_map
from messages import guard

ctx = sidebar.context()
st.title("Compare models")
st.markdown("The trained models side by side: how well each one fills in missing facts, how strongly it links "
            "jobs with gender (or another recorded value), and whether that value can still be read from what it "
            "learnt about each person. Hover a column name for the technical name and definition.")
runs, graph, attributes = sidebar.require_measurable(ctx)
attribute = sidebar.attribute_box(st, attributes, key="compare_attr")
if len(runs) == 1:
    st.info("Only one run is selected; select more in the sidebar to compare. Train the debiased models on the "
            "Train page if they are missing.")


def _fmt(value, pattern="{:.3f}"):
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else pattern.format(value)


rows, distribution, probes = [], [], []
for run in runs:
    with guard(f"the numbers of {run.label}"):
        lp = results.link_prediction(run)
        metrics = results.run_metrics(run)
        aggregate = results.run_measure("aggregate_bias", run, attribute)
        row = {"model": run.model_label, "run": run.name, "MRR": lp.get("mrr"), "Hits@10": lp.get("hits@10"),
               "bias": aggregate["bias"], "ci_low": aggregate["ci_low"], "ci_high": aggregate["ci_high"],
               "seconds per epoch": metrics.get("seconds_per_epoch")}
        try:
            probe = results.run_measure("leakage_probe", run, attribute)
            own = results.run_measure("prediction_leakage", run, attribute)
            row["leakage ROC-AUC"] = probe["roc_auc"]
            row["leakage balanced acc."] = probe["balanced_accuracy"]
            row["own prediction ROC-AUC"] = own["roc_auc"]
            probes.append({"run": run.short, "model": run.model, "roc_auc": probe["roc_auc"],
                           "prediction_auc": own["roc_auc"]})
        except Exception as exc:  # noqa: BLE001 - one probe failing leaves the other numbers standing
            st.warning(f"Leakage probe for {run.label}: {exc}")
        try:
            gap = results.run_measure("score_difference", run, attribute)
            row["score gap"] = gap["difference"]
            row["score gap: shared"], row["score gap: individual"] = gap.get("shared_part"), gap.get("individual_part")
            readable = results.run_measure("attribute_classifier", run, attribute)
            row["classifier accuracy"] = readable["accuracy"]
            row["always-majority rate"] = readable["most_frequent_rate"]
        except Exception as exc:  # noqa: BLE001 - as above: the other numbers stay
            st.warning(f"What is left of {attribute} in {run.label}: {exc}")
        rows.append(row)
        result = results.bias_result(run, attribute)
        b_value = result.measured[1] if len(result.measured) > 1 else result.measured[0]
        part = result.frame[["entity", "label", "people", f"B_{b_value}"]].rename(columns={f"B_{b_value}": "B"})
        part["run"], part["model"], part["value"] = run.short, run.model, b_value
        distribution.append(part)

if not rows:
    st.stop()
table = pd.DataFrame(rows)
factor, unit = display_scale(table["bias"])
table["bias"] = table["bias"] * factor
table["bias 95% interval"] = [f"{_fmt(lo * factor, '{:.2f}')} – {_fmt(hi * factor, '{:.2f}')}"
                              for lo, hi in zip(table.pop("ci_low"), table.pop("ci_high"))]
table = table[[c for c in ("model", "run", "MRR", "Hits@10", "bias", "bias 95% interval", "leakage ROC-AUC",
                           "leakage balanced acc.", "own prediction ROC-AUC", "score gap", "score gap: shared",
                           "score gap: individual", "classifier accuracy", "always-majority rate",
                           "seconds per epoch") if c in table]]
st.subheader("The table")
table["model"] = [f"{m} · {r}" if len(set(table["model"])) < len(table) else m
                  for m, r in zip(table["model"], table["run"])]
main = [c for c in ("model", "MRR", "bias", "leakage ROC-AUC", "seconds per epoch") if c in table]
st.dataframe(table[main], hide_index=True, width="stretch", column_config={
    "MRR": st.column_config.NumberColumn(
        "fills in missing facts", format="%.3f",
        help="Higher is better. Technically: filtered mean reciprocal rank (MRR) on the test triples: for each "
             "held-out fact, 1 / the rank the model gives the true answer among all entities, averaged."),
    "bias": st.column_config.NumberColumn(
        f"links jobs with {attribute}" + (f" ({unit})" if unit else ""), format="%.2f",
        help="Lower is more neutral. Technically: mean |B| over values and professions" + (f", shown {unit}" if unit
             else "") + ", where B is the mean change of a profession's score when a person's vector is nudged "
             f"towards a value of {attribute} (Fisher et al., 2020)."),
    "leakage ROC-AUC": st.column_config.NumberColumn(
        f"can {attribute} be read from it?", format="%.2f",
        help="0.5: no better than a coin; 1: read perfectly. Technically: ROC-AUC of a logistic-regression probe "
             f"that predicts a person's {attribute} from the model's vector for them (5-fold cross-validation)."),
    "seconds per epoch": st.column_config.NumberColumn(
        "seconds per epoch", format="%.2f",
        help="Training time for one pass over the training facts, on the machine that trained it."),
})
details = table.drop(columns=["model"]).set_index(table["model"]).T
details.index.name = "measure"
with st.expander("All numbers (technical names)"):
    st.dataframe(details.map(lambda v: _fmt(v) if isinstance(v, float) else str(v)), width="stretch")
    st.markdown(
        "- **MRR**, **Hits@10**: filtered mean reciprocal rank, and share of test facts whose true answer is in the "
        "model's top 10.\n"
        "- **bias**: mean |B| over values and professions; **bias 95% interval**: from resampling people "
        "(bootstrap).\n"
        f"- **leakage ROC-AUC**, **balanced acc.**: a logistic regression reading {attribute} from the person "
        "vectors (5-fold cross-validation); **own prediction ROC-AUC**: ranking people by the model's own scores "
        f"for each {attribute} value.\n"
        f"- **score gap**: how much higher the model scores a person's recorded {attribute} than the other values "
        "(debiasing paper, Table 5; raw scores, so compare runs with the same score function); 0: it cannot tell "
        "them apart. It is the sum of a **shared** part, from each value's mean score over the people (the model "
        "favouring some values for everyone, whoever the person is), and an **individual** part, from how each "
        "person's scores depart from those means (what the person's own vector adds).\n"
        f"- **classifier accuracy**: how often a small network (one hidden layer of 300 units) guesses {attribute} "
        "from the vectors (debiasing paper, Table 6; 5 stratified folds); read it against the **always-majority "
        "rate**, the accuracy of always answering the most common value.")
st.caption("Models are compared on the same graph, measured with the same settings. Open *All numbers* for "
           "the technical measures and their definitions.")
reference = published.reference_rows(attribute)
if reference:
    with st.expander("The debiasing paper's published figures (FB15K, for reference)"):
        st.markdown(f"Fisher et al. (EMNLP 2020) trained these models on **FB15K**, a larger Freebase graph than "
                    f"this one, with the *fisher2020* setting (Train page). Their {attribute} numbers are shown as a "
                    "reference, not as a result on this graph: compare the pattern (which model fills in facts "
                    "well, which one leaves the attribute readable), not the values. Empty cells: the paper gives "
                    "no figure.")
        st.dataframe(pd.DataFrame(reference).map(lambda v: "—" if v is None else v), hide_index=True,
                     width="stretch", key="compare_published")

run_colours = run_colour_map(runs)
value_palette = value_colours(list(graph.attribute_table(attribute).value_labels))
if distribution:
    frame = pd.concat(distribution, ignore_index=True)
    value = frame["value"].iloc[0]
    b_factor, b_unit = display_scale(frame["B"])
    frame["B"] = frame["B"] * b_factor
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("How strongly each job is linked, in every model")
        min_people = st.slider("Minimum people per profession", 1, 50, 10, key="compare_min")
        shown = frame[frame["people"] >= min_people]
        st.plotly_chart(charts.bias_distribution(shown, f"link to {value} (B {b_unit})".strip(), run_colours, value,
                                                 value_palette.get(value, "#2e3440")), key="compare_box")
        st.caption("Each dot is a profession. A debiased model squeezes the dots towards zero.")
    with right:
        st.subheader("One profession in every model")
        professions = (frame[frame["run"] == frame["run"].iloc[0]].assign(size=lambda f: f["B"].abs())
                       .sort_values("size", ascending=False)["label"].tolist())
        profession = st.selectbox("Profession", professions, key="compare_prof")
        chosen = frame[frame["label"] == profession]
        st.plotly_chart(charts.profession_across_models(chosen, value, run_colours, value_palette.get(value, "#2e3440"),
                                                        b_unit), key="compare_prof_chart")
        people = int(chosen["people"].iloc[0]) if len(chosen) else 0
        st.caption(f"{profession}: {people:,} people in the graph. Bars above zero: moving a person towards "
                   f"{value} makes the model find this profession more plausible.")

if probes:
    st.subheader(f"Can {attribute} be read from what the model learnt?")
    facts = None
    with guard(f"the probe on the graph's other facts about {attribute}"):
        facts = results.facts_probe(ctx.dataset.data_json, attribute, tuple(runs))
    left, right = st.columns([2, 1], gap="large")
    with left:
        st.plotly_chart(charts.probe_bars(pd.DataFrame(probes), run_colours, facts["roc_auc"] if facts else None),
                        key="compare_probe")
    with right:
        st.markdown(f"A logistic regression tries to recover each person's {attribute} from the model's vector for "
                    "them (5-fold cross-validation; solid bars). Basic TransE is trained on the attribute facts "
                    "themselves, so it is expected to leak them almost perfectly; the debiasing methods aim to bring "
                    "the score towards 0.5. The pale bars ask the model itself: ranking people by how likely its "
                    f"own scores make each {attribute} value (what the KL term evens out). For a second reference, "
                    "train Basic TransE with the attribute's relation withheld (Train page, More settings): a model "
                    "that never saw the attribute, whose score is what the rest of the graph lets an embedding "
                    "pick up.")
        if facts:
            st.markdown(f"**Reference:** the same classifier on each person's *other* recorded facts in this graph "
                        f"(no embedding, the {attribute} facts left out) reaches **{facts['roc_auc']:.2f}** "
                        "(dashed line). Where the rest of the graph records the attribute in other forms (award "
                        "categories, professions recorded mostly for one group), a model that keeps those facts "
                        "predictable can be expected to keep the attribute readable; below the line, the probe reads "
                        "less from the model's vectors than from the people's other facts.")

st.subheader("A hand-out")
st.caption("One HTML file for people without the dashboard: the table above, each model's top-20 lists with the "
           "graph's counts, and the embedding shift of the most telling person. It works offline.")
if st.button("Prepare the hand-out", icon=":material/description:", key="compare_prepare_report"):
    with guard("the hand-out"):
        st.download_button("Download the hand-out (HTML)", results.hand_out(tuple(runs), attribute),
                           file_name=f"kgcore-report-{attribute}.html", mime="text/html",
                           icon=":material/download:", key="compare_report")
