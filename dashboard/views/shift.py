"""Embedding shift: one person's vector moved step by step towards another value of an attribute, and the
professions the model ranks highest for them at each step."""
import pandas as pd
import streamlit as st

import charts
import results
import sidebar
from display import example_person
from messages import guard

ctx = sidebar.context()
st.title("Embedding shift")
st.markdown("Pick a person and move the model's vector for them, one small step at a time, towards another "
            "value of a sensitive attribute. The map on the left is fitted once, so only the person moves; the "
            "bars on the right show how the professions the model ranks highest for them change. Press "
            "**Play** or drag the step slider.")
if ctx.dataset.synthetic:
    st.caption(":material/science: Synthetic demo world: invented people.")
runs = sidebar.require_runs(ctx)
graph = ctx.graph()
attributes = list(graph.spec.attribute_names)
if not attributes or not graph.spec.target:
    st.error("This graph's spec needs a sensitive attribute and a target relation (profession).")
    st.stop()

people = results.people_index(ctx.dataset.data_json)
top_row = st.columns([2, 1.2, 1.2])
run_paths = [r.path for r in runs]
labels = {r.path: r.label for r in runs}
run = runs[run_paths.index(top_row[0].selectbox("Model", run_paths, format_func=labels.get, key="shift_run"))]
attribute = top_row[1].selectbox("Attribute", attributes,
                                 index=attributes.index("gender") if "gender" in attributes else 0, key="shift_attr")
method = top_row[2].radio("2-D map", ["pca", "umap"], format_func=str.upper, horizontal=True, key="shift_method",
                          help="PCA is linear and instant. UMAP keeps neighbourhoods better; its first fit "
                               "takes tens of seconds and arrows are only approximate.")

with guard("the person picker"):
    table = graph.attribute_table(attribute)
    values = list(table.value_labels)
    recorded = people[people[attribute] != ""]
    if recorded.empty:
        st.warning(f"No person has a recorded {attribute}.")
        st.stop()
    default_index = example_person(recorded, graph, attribute)
    options = recorded["entity"].tolist()
    display = dict(zip(recorded["entity"], recorded["display"]))
    pick_row = st.columns([2, 1.2, 1.2])
    person = pick_row[0].selectbox("Person (type to search)", options, index=default_index,
                                   format_func=display.get, key=f"shift_person_{attribute}")
    info = recorded[recorded["entity"] == person].iloc[0]
    held = info[attribute]
    others = [v for v in values if v != held] or values
    target = pick_row[1].selectbox("Move towards", others, key=f"shift_target_{attribute}")
    steps = pick_row[2].slider("Steps", 5, 40, 20, key="shift_steps")
    with st.expander("Step size"):
        from kgcore.analysis.trajectory import TRAJECTORY_STEP_SIZE

        step_size = st.number_input("Size of each step", min_value=0.001, max_value=1.0,
                                    value=float(TRAJECTORY_STEP_SIZE), step=0.005, format="%.3f", key="shift_size",
                                    help="Larger steps move further; the bias measure itself uses one tiny step.")
    st.caption(f"**{info['label']}** is recorded as *{held or 'no value'}* for {attribute}"
               + (f" and holds: {info['professions']}." if info.get("professions") else "."))

@st.cache_resource(show_spinner=False, max_entries=32)
def animation(run, person: str, attribute: str, target: str, steps: int, step_size: float, method: str, held: str):
    """The animated figure, built once per choice (a figure of many frames takes a while to assemble);
    shared read-only."""
    trajectory = results.trajectory(run, person, attribute, target, steps, step_size)
    backdrop, path = results.shift_scene(run, person, attribute, target, steps, step_size, method)
    relation = graph.spec.attribute(attribute).relation
    return charts.shift_animation(backdrop, path, trajectory.ranking, trajectory.person_label, values, target, held,
                                  trajectory.held_professions, (relation, graph.spec.target or "profession"))


with guard("the embedding shift"):
    trajectory = results.trajectory(run, person, attribute, target, int(steps), float(step_size))
    spec_attribute = graph.spec.attribute(attribute)
    st.plotly_chart(animation(run, person, attribute, target, int(steps), float(step_size), method, held),
                    key="shift_chart")
    arrows_drawn = bool(results.shift_scene(run, person, attribute, target, int(steps), float(step_size),
                                            method)[1]["ax"].notna().all())
    if arrows_drawn:
        st.caption("Red bars: professions the person holds in the graph. The dotted line is the path so far; the "
                   f"coloured arrow is the person plus the *{spec_attribute.relation}* relation vector (it should "
                   f"point at a value of {attribute}), the dark arrow the person plus the *{graph.spec.target}* "
                   "relation vector (professions near its tip are the ones the model ranks high).")
    else:
        st.caption("Red bars: professions the person holds in the graph. The dotted line is the path so far. "
                   "No relation arrows: this model's score function multiplies vectors instead of adding a "
                   "relation to the person, so there is no point on the map for an arrow to reach.")

    ranking = trajectory.ranking
    first, last = ranking[ranking["step"] == 0], ranking[ranking["step"] == ranking["step"].max()]
    compare = pd.DataFrame({
        "before": first.sort_values("rank")["label"].tolist(),
        "probability before": first.sort_values("rank")["probability"].tolist(),
        f"after {int(steps)} steps towards {target}": last.sort_values("rank")["label"].tolist(),
        "probability after": last.sort_values("rank")["probability"].tolist(),
    }, index=pd.RangeIndex(1, len(first) + 1, name="rank"))
    moved_in = set(last["label"]) - set(first["label"])
    left, right = st.columns([3, 1], gap="large")
    with left:
        st.subheader("Ranking before and after")
        st.dataframe(compare, column_config={
            "probability before": st.column_config.NumberColumn(format="percent"),
            "probability after": st.column_config.NumberColumn(format="percent")})
    with right:
        st.metric("New in the top 10", len(moved_in))
        top_before, top_after = first.sort_values("rank")["label"].iloc[0], last.sort_values("rank")["label"].iloc[0]
        st.markdown(f"Top profession: **{top_after}**" + ("" if top_after == top_before else f" (was {top_before})"))
        if moved_in:
            st.caption("Entered the top 10: " + ", ".join(sorted(moved_in)))
        held_out = [p for p in trajectory.held_professions if p in set(first["entity"]) - set(last["entity"])]
        if held_out:
            st.caption("Left the top 10 although the person holds it: "
                       + ", ".join(graph.label(p) for p in held_out))
