"""Ask the model: "what should I be when I grow up?" Flip one recorded attribute of a person and see each
model's top professions for both versions."""
import pandas as pd
import streamlit as st

import results
import sidebar
from display import example_person
from messages import guard

ctx = sidebar.context()
st.title("Ask the model")
st.markdown("*What should I be when I grow up?* Pick a person from the graph, or build one from a few facts, "
            "then flip one recorded attribute. Each model places both versions from their facts in the same "
            "way and lists the professions it finds most plausible; what changes is due to the flipped fact "
            "alone.")
if ctx.dataset.synthetic:
    st.caption(":material/science: Synthetic demo world: invented people.")
runs = sidebar.require_runs(ctx)
graph = ctx.graph()
attributes = list(graph.spec.attribute_names)
if not attributes or not graph.spec.target:
    st.error("This graph's spec needs a sensitive attribute and a target relation (profession).")
    st.stop()

from kgcore.analysis.whatif import PERSON, attribute_values, person_facts  # noqa: E402

attribute = st.selectbox("Attribute to flip", attributes,
                         index=attributes.index("gender") if "gender" in attributes else 0, key="ask_attr")
values = [label for _, label in attribute_values(graph, attribute)]
mode = st.radio("Person", ["Pick a person from the graph", "Build a person"], horizontal=True, key="ask_mode")

facts: list[tuple[str, str, str]] = []
with guard("the person"):
    if mode == "Build a person":
        relations = results.person_relations(ctx.dataset.data_json)
        st.caption("Choose a value for any fact you want the person to have (leave the rest empty).")
        cols = st.columns(3)
        attribute_relation = graph.spec.attribute(attribute).relation
        ordered = [attribute_relation] + [r for r in relations if r != attribute_relation]
        for index, relation in enumerate(ordered[:15]):
            if relation not in relations:
                continue
            choices = [""] + [entity for entity, _ in relations[relation]]
            default = 1 if relation == attribute_relation else 0
            picked = cols[index % 3].selectbox(relation.replace("_", " "), choices, index=default,
                                               format_func=lambda e: "—" if not e else graph.label(e),
                                               key=f"ask_build_{relation}")
            if picked:
                facts.append((PERSON, relation, picked))
        who = "the person you built"
    else:
        people = results.people_index(ctx.dataset.data_json)
        recorded = people[people[attribute] != ""]
        display = dict(zip(recorded["entity"], recorded["display"]))
        person = st.selectbox("Person (type to search)", recorded["entity"].tolist(), format_func=display.get,
                              index=example_person(recorded, graph, attribute), key=f"ask_person_{attribute}")
        info = recorded[recorded["entity"] == person].iloc[0]
        facts = person_facts(graph, person)
        who = info["label"]
        st.caption(f"**{who}** is recorded as *{info[attribute]}* for {attribute}"
                   + (f"; in the graph they hold: {info['professions']}." if info.get("professions") else "."))
    held = [graph.label(t if h == PERSON else h) for h, r, t in facts
            if r == graph.spec.attribute(attribute).relation]
    others = [v for v in values if v not in held] or values
    flip_to = st.selectbox(f"Flip {attribute} to", others, key=f"ask_flip_{attribute}")
    with st.expander(f"The {len(facts)} facts the models use"):
        st.dataframe(pd.DataFrame([{"head": "this person" if h == PERSON else graph.label(h), "relation": r,
                                    "tail": "this person" if t == PERSON else graph.label(t)} for h, r, t in facts]),
                     hide_index=True)
        st.caption(f"The {graph.spec.target_name} facts themselves are left out: they are what we ask about.")

if not facts:
    st.info("Choose at least one fact for the person.")
    st.stop()


def _highlight(frame: pd.DataFrame, other: pd.DataFrame, colour: str):
    """Colour rows whose profession is not in the other list."""
    missing = ~frame["profession"].isin(other["profession"])
    return frame.style.apply(lambda row: [f"background-color: {colour}" if missing[row.name] else ""
                                          for _ in row], axis=1).format({"probability": "{:.1%}"})


for run in runs:
    with guard(f"the answer of {run.label}"):
        answer = results.what_if(run, tuple(facts), attribute, flip_to)
        st.subheader(run.label)
        original = answer.original[["label", "probability"]].rename(columns={"label": "profession"})
        flipped = answer.flipped[["label", "probability"]].rename(columns={"label": "profession"})
        left, mid, right = st.columns([5, 5, 2], gap="medium")
        with left:
            st.markdown(f"**As recorded** ({answer.original_value or 'no ' + attribute})")
            st.dataframe(_highlight(original, flipped, "#fbe3d6"), height=35 * (len(original) + 1) + 3)
        with mid:
            st.markdown(f"**With {attribute} flipped to {answer.flipped_value}**")
            st.dataframe(_highlight(flipped, original, "#d6f0e4"), height=35 * (len(flipped) + 1) + 3)
        with right:
            st.metric("Changed in the top 10", f"{answer.changed} of {len(flipped)}")
            before, after = original["profession"].iloc[0], flipped["profession"].iloc[0]
            st.markdown(f"Top profession: **{after}**" + ("" if after == before else f" (was {before})"))
        if run.model == "kl":
            st.caption("The KL-debiased model's attribute vectors for whitelisted facts (such as *nun*) belong to "
                       "people in the graph; these two hypothetical versions are placed without them.")
        changes = answer.changes
        entered = changes[changes["change"] == "new"]["label"].tolist()
        left_list = changes[changes["change"] == "dropped"]["label"].tolist()
        if entered or left_list:
            st.caption(("Entered: " + ", ".join(entered) + ". " if entered else "")
                       + ("Left: " + ", ".join(left_list) + "." if left_list else ""))
        else:
            st.caption("The same professions in both lists" + (" (order changed)."
                       if (changes["change"] != "same").any() else ", in the same order."))

st.caption("These lists describe what each trained model associates with the recorded values in this graph — "
           "not what anyone should be.")
