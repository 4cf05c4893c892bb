"""Embedding shift: one person's vector moved step by step from the value of an attribute they hold towards
another, drawn in the plane of the attribute direction and their top professions
(kgcore.analysis.plane), with the professions the model ranks highest for them at each step."""
import pandas as pd
import streamlit as st

import results
import sidebar
from kgcore.colours import value_colours
from messages import guard
from display import example_person

ctx = sidebar.context()
st.title("Embedding shift")
INTRO = ("Watch what the model suggests as jobs for one person while we slowly move the model's picture of "
         "them from one gender (or other recorded value) to another — press **▶ Play**.")
intro = st.empty()
intro.markdown(INTRO)
runs, graph, attributes = sidebar.require_measurable(ctx)

people = results.people_index(ctx.dataset.data_json)
row = st.columns([1.3, 1, 2, 1])
run_paths = [r.path for r in runs]
labels = {r.path: r.label for r in runs}
run = runs[run_paths.index(row[0].selectbox("Model", run_paths, format_func=labels.get, key="shift_run"))]
attribute = sidebar.attribute_box(row[1], attributes, key="shift_attr")

with guard("the person picker"):
    table = graph.attribute_table(attribute)
    values = list(table.value_labels)
    colours = value_colours(values)
    recorded = people[people[attribute] != ""]
    if recorded.empty or len(values) < 2:
        st.warning(f"No person has a recorded {attribute}, or it has a single value: there is no move to show.")
        st.stop()
    options = recorded["entity"].tolist()
    display = dict(zip(recorded["entity"], recorded["display"]))
    telling = results.shift_person(run, attribute)
    default = options.index(telling) if telling in options else example_person(recorded, graph, attribute)
    person = row[2].selectbox("Person (type to search)", options, index=default, format_func=display.get,
                              key=f"shift_person_{attribute}_{run.path}",
                              help="The first person offered is the one whose top professions change most when "
                                   "moved, for this model: a telling example.")
    info = recorded[recorded["entity"] == person].iloc[0]
    if person == telling:  # the computed example is named where the page opens (the article's "person1")
        intro.markdown(INTRO + f" First up is **{display[person]}**: of everyone in this graph, the person whose top "
                       "jobs change most when moved, for this model.")
    held = info[attribute]
    others = [v for v in values if v != held]
    target = row[3].selectbox("Move towards", others, key=f"shift_target_{attribute}")

with guard("the embedding shift"):
    steps = int(st.session_state.get("shift_steps", 20))
    plane, step_size = results.shift_plane(run, person, attribute, held, target, steps)
    st.plotly_chart(results.shift_chart(run, person, attribute, held, target, steps, info["label"],
                                        tuple(colours.items())), key="shift_chart")
    frames = len(plane.path)
    if plane.still_changing:
        ending = (f"The ranking was still changing at the last step ({int(plane.path['step'].max())}); moving "
                  "further would change it more.")
    elif plane.settled_at is None:
        ending = "The ranking did not change at all along the way: for this person the model's suggestions hold."
    else:
        ending = (f"The ranking stops changing after step {plane.settled_at}; the animation stops once the person "
                  f"has also reached the {target} side.")
    st.caption(f"**{info['label']}** is recorded as *{held}* for {attribute}"
               + (f" and holds: {info['professions']}." if info.get("professions") else ".")
               + f" Red bars: professions they hold in the graph. {frames} frames, each one changes the position or "
                 f"the ranking. {ending}"
               + (" Gender is recorded as binary in these data." if attribute == "gender" else ""))

    with st.expander("How to read the map, and settings"):
        st.markdown(
            f"The map is a flat slice through the model's many-dimensional space, chosen so the move is visible. "
            f"Left to right runs the direction from *{held}* to *{target}* as the model scores them; the diamonds "
            f"mark where the model would place someone to be most sure of each value (for this model's score: the "
            f"value's vector as the *{graph.spec.attribute(attribute).relation}* relation reads it). Bottom to top "
            "runs towards the professions the model ranks highest for this person; grey squares are those "
            "professions (the same reading for the profession relation), framed when they are in the top 10 at "
            "this step. The arrow ends exactly where the model's vector for the person is at this step, seen in "
            "this slice. Red bars: professions the person holds in the graph.")
        st.markdown(
            f"Each step raises the model's score for *{target}* against the other values a little (the bias "
            f"measure's step, repeated); the step size ({step_size:.3g}) is chosen so that the person ends as far "
            f"along the arrow's direction as the two values lie apart. On *Ask the model* the same person is placed "
            "again from their facts with the value flipped, so its percentages differ from these.")
        st.slider("Steps", 5, 40, 20, key="shift_steps",
                  help="More steps: a smoother animation over the same distance.")

    ranking = plane.ranking
    first = ranking[ranking["step"] == ranking["step"].min()].sort_values("rank")
    last = ranking[ranking["step"] == ranking["step"].max()].sort_values("rank")
    compare = pd.DataFrame({
        "before": first["label"].tolist(), "chance before": first["probability"].tolist(),
        f"after the move to {target}": last["label"].tolist(), "chance after": last["probability"].tolist(),
    }, index=pd.RangeIndex(1, len(first) + 1, name="rank"))
    moved_in = set(last["label"]) - set(first["label"])
    left, right = st.columns([3, 1], gap="large")
    with left:
        st.subheader("Ranking before and after")
        st.dataframe(compare, column_config={
            "chance before": st.column_config.NumberColumn(format="percent"),
            "chance after": st.column_config.NumberColumn(format="percent")})
    with right:
        st.metric("New in the top 10", len(moved_in))
        top_before, top_after = first["label"].iloc[0], last["label"].iloc[0]
        st.markdown(f"Top profession: **{top_after}**" + ("" if top_after == top_before else f" (was {top_before})"))
        if moved_in:
            st.caption("Entered the top 10: " + ", ".join(sorted(moved_in)))
