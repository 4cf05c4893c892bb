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
st.markdown("*What should I be when I grow up?* Take one person, change only their recorded gender (or another "
            "value), and see which jobs each model suggests for both versions.")
st.caption("Each model places both versions from their facts in the same way and lists the professions it finds "
           "most plausible, so what changes is due to the flipped fact alone.")
runs, graph, attributes = sidebar.require_measurable(ctx, "Synthetic demo world: invented people.")

from kgcore.analysis.whatif import PERSON, attribute_values, person_facts  # noqa: E402

top_row = st.columns([1, 2])
attribute = sidebar.attribute_box(top_row[0], attributes, key="ask_attr", label="Attribute to flip")
values = [label for _, label in attribute_values(graph, attribute)]
mode = top_row[1].radio("Person", ["Pick a person from the graph", "Build a person"], horizontal=True,
                        key="ask_mode")
pick_row = st.columns([2, 1])

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
        person = pick_row[0].selectbox("Person (type to search)", recorded["entity"].tolist(), format_func=display.get,
                              index=example_person(recorded, graph, attribute), key=f"ask_person_{attribute}")
        info = recorded[recorded["entity"] == person].iloc[0]
        facts = person_facts(graph, person)
        who = info["label"]
        st.caption(f"**{who}** is recorded as *{info[attribute]}* for {attribute}"
                   + (f"; in the graph they hold: {info['professions']}." if info.get("professions") else "."))
    held = [graph.label(t if h == PERSON else h) for h, r, t in facts
            if r == graph.spec.attribute(attribute).relation]
    others = [v for v in values if v not in held] or values
    flip_to = pick_row[1].selectbox(f"Flip {attribute} to", others, key=f"ask_flip_{attribute}")
    with st.expander(f"The {len(facts)} facts the models use"):
        st.dataframe(pd.DataFrame([{"head": "this person" if h == PERSON else graph.label(h), "relation": r,
                                    "tail": "this person" if t == PERSON else graph.label(t)} for h, r, t in facts]),
                     hide_index=True)
        st.caption(f"The {graph.spec.target_name} facts themselves are left out: they are what we ask about.")

if not facts:
    st.info("Choose at least one fact for the person.")
    st.stop()


ENTERED, LEFT = "#d6f0e4", "#fbe3d6"  # a profession only in the flipped list / only in the recorded one


def _side_by_side(original: pd.DataFrame, flipped: pd.DataFrame, flipped_name: str):
    """One table: the recorded version's top professions beside the flipped version's, rank by rank, with
    professions that are in only one of the two lists highlighted."""
    table = pd.DataFrame({"as recorded": original["label"].tolist(), "p1": original["probability"].mul(100).tolist(),
                          flipped_name: flipped["label"].tolist(), "p2": flipped["probability"].mul(100).tolist()},
                         index=pd.RangeIndex(1, len(original) + 1, name="rank"))
    only_before = ~table["as recorded"].isin(table[flipped_name])
    only_after = ~table[flipped_name].isin(table["as recorded"])

    def colour(column: pd.Series) -> list[str]:
        mask, tint = (only_before, LEFT) if column.name in ("as recorded", "p1") else (only_after, ENTERED)
        return [f"background-color: {tint}" if m else "" for m in mask]

    return table.style.apply(colour, axis=0).format({"p1": "{:.0f}%", "p2": "{:.0f}%"})


from kgcore.colours import swatch  # noqa: E402
from model_info import run_colour_map  # noqa: E402

st.caption("Each column is one model. Highlighted: professions in only one of the two lists (red: left the list "
           "after the flip, green: entered it). % is the chance the model gives among all professions. These "
           "people are placed again from their facts, so the percentages differ from *Embedding shift*, which "
           "nudges the model's stored vector for them.")
run_colours = run_colour_map(runs)
flipped_name = f"as {flip_to}"
for column, run in zip(st.columns(len(runs), gap="medium"), runs):
    with column, guard(f"the answer of {run.label}"):
        answer = results.what_if(run, tuple(facts), attribute, flip_to)
        st.markdown(f"<h4 style='margin:0'>{swatch(run_colours[run.path], run.model_label)}</h4>",
                    unsafe_allow_html=True)
        st.caption(run.name + (" (pretrained)" if run.origin == "pretrained" else ""))
        st.metric("Changed in the top 10", f"{answer.changed} of {len(answer.flipped)}")
        st.dataframe(_side_by_side(answer.original, answer.flipped, flipped_name), width="stretch", hide_index=True,
                     height=35 * (len(answer.flipped) + 1) + 3, column_config={
                         "as recorded": st.column_config.TextColumn(width=104),
                         flipped_name: st.column_config.TextColumn(width=104),
                         "p1": st.column_config.TextColumn("%", width=40),
                         "p2": st.column_config.TextColumn("%", width=40)})
        before, after = answer.original["label"].iloc[0], answer.flipped["label"].iloc[0]
        st.markdown(f"Top profession: **{after}**" + ("" if after == before else f" (was {before})"))
        if run.model == "kl":
            st.caption("The KL-debiased model's attribute vectors for whitelisted facts (such as *nun*) belong to "
                       "people in the graph; these two hypothetical versions are placed without them.")

st.caption("These lists describe what each trained model associates with the recorded values in this graph — "
           "not what anyone should be.")
