"""Compare models: link prediction quality, bias and attribute leakage of the selected runs side by side."""
import math

import pandas as pd
import streamlit as st

import charts
import results
import sidebar
from display import display_scale
from messages import guard

ctx = sidebar.context()
st.title("Compare models")
st.markdown("The selected runs side by side: how well each predicts missing facts (**MRR**, higher is better), "
            "how strongly it associates professions with the attribute (**bias**, mean |B| over professions, "
            "lower is more neutral), and how well a simple classifier can read the attribute from its person "
            "vectors (**leakage**, ROC-AUC; 0.5 means nothing can be read); and the debiasing paper's two measures "
            "of what is left of the attribute: how much higher the model scores each person's recorded value "
            "than the others (**score gap**, 0 means it cannot tell), and how often a small network guesses the "
            "value from the vectors (**classifier accuracy**, against always guessing the most common value).")
if ctx.dataset.synthetic:
    st.caption(":material/science: Synthetic demo world.")
runs = sidebar.require_runs(ctx)
graph = ctx.graph()
attributes = list(graph.spec.attribute_names)
if not attributes or not graph.spec.target:
    st.error("This graph's spec needs a sensitive attribute and a target relation (profession).")
    st.stop()
attribute = st.selectbox("Attribute", attributes, index=attributes.index("gender") if "gender" in attributes else 0,
                         key="compare_attr")
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
            row["score gap"] = results.run_measure("score_difference", run, attribute)["difference"]
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
                           "leakage balanced acc.", "own prediction ROC-AUC", "score gap", "classifier accuracy",
                           "always-majority rate", "seconds per epoch") if c in table]]
st.subheader("The table")
st.dataframe(table, hide_index=True, column_config={
    "MRR": st.column_config.NumberColumn(format="%.3f"),
    "Hits@10": st.column_config.NumberColumn(format="%.3f"),
    "bias": st.column_config.NumberColumn(f"bias (mean |B|{', ' + unit if unit else ''})", format="%.2f"),
    "seconds per epoch": st.column_config.NumberColumn(format="%.2f"),
    "leakage ROC-AUC": st.column_config.NumberColumn(format="%.3f"),
    "leakage balanced acc.": st.column_config.NumberColumn(format="%.3f"),
    "own prediction ROC-AUC": st.column_config.NumberColumn(format="%.3f"),
    "score gap": st.column_config.NumberColumn(
        "score gap true vs other values", format="%.3f",
        help=f"How much higher the model scores a person's recorded {attribute} than the other values; 0: it cannot "
             "tell them apart. Definition (debiasing paper, Table 5): over the people whose value is in the "
             "training graph, the raw score S(person, attribute, true value) minus the mean score of the other "
             "values among the 30 most common, averaged over people; no attribute vectors added. Raw scores: "
             "compare runs with the same score function."),
    "classifier accuracy": st.column_config.NumberColumn(
        "can a classifier read it? (accuracy)", format="%.3f",
        help=f"How often a small neural network guesses a person's {attribute} from the model's vector for them. "
             "Definition (debiasing paper, Table 6): one hidden layer of 300 ReLU units, softmax output, trained "
             "with cross-entropy on standardised embeddings; mean accuracy over 5 stratified folds (seed 0), on the "
             "people whose value is in the training graph (the most common value they hold, among the 30 most "
             "common). Read it against the always-majority rate beside it, not against 1 / values."),
    "always-majority rate": st.column_config.NumberColumn(
        "always-majority rate", format="%.3f",
        help="The accuracy of always answering the most common value on the same people: what a classifier that "
             "reads nothing from the vectors scores."),
})
st.caption("MRR: filtered mean reciprocal rank on the test triples. Bias: mean over values and professions of "
           "|B|, with a bootstrap interval over people. Compare bias only between runs measured with the same "
           "settings (they are here). Score gap and classifier: the debiasing paper's two measures of what is "
           f"left of {attribute} (hover a column name for its definition); a model that keeps nothing has a gap "
           "near 0 and a classifier accuracy near the always-majority rate.")

if distribution:
    frame = pd.concat(distribution, ignore_index=True)
    value = frame["value"].iloc[0]
    b_factor, b_unit = display_scale(frame["B"])
    frame["B"] = frame["B"] * b_factor
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Bias scores of all professions")
        min_people = st.slider("Minimum people per profession", 1, 50, 10, key="compare_min")
        shown = frame[frame["people"] >= min_people]
        st.plotly_chart(charts.bias_distribution(shown, f"B toward {value} {b_unit}".strip()), key="compare_box")
        st.caption("Each dot is a profession. A debiased model squeezes the dots towards zero.")
    with right:
        st.subheader("One profession in every model")
        professions = (frame[frame["run"] == frame["run"].iloc[0]].assign(size=lambda f: f["B"].abs())
                       .sort_values("size", ascending=False)["label"].tolist())
        profession = st.selectbox("Profession", professions, key="compare_prof")
        chosen = frame[frame["label"] == profession]
        st.plotly_chart(charts.profession_across_models(chosen, [value], b_unit), key="compare_prof_chart")
        people = int(chosen["people"].iloc[0]) if len(chosen) else 0
        st.caption(f"{profession}: {people:,} people in the graph. Bars above zero: moving a person towards "
                   f"{value} makes the model find this profession more plausible.")

if probes:
    st.subheader("Attribute leakage probe")
    facts = None
    with guard(f"the probe on the graph's other facts about {attribute}"):
        facts = results.facts_probe(ctx.dataset.data_json, attribute)
    left, right = st.columns([2, 1], gap="large")
    with left:
        st.plotly_chart(charts.probe_bars(pd.DataFrame(probes), facts["roc_auc"] if facts else None),
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
