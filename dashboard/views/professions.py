"""Professions: which professions a model associates most with each value of an attribute."""
import streamlit as st

import charts
import results
import sidebar
from kgcore.colours import value_colours
from discovery import slug
from display import display_scale
from messages import guard

ctx = sidebar.context()
st.title("Professions")
st.markdown("Which jobs does the model link with women, and which with men (or with another recorded value)? "
            "Each list shows how strongly the model makes the link, beside how many people in this graph "
            "actually hold the job.")
runs, graph, attributes = sidebar.require_measurable(ctx)

controls = st.columns([2, 1.2, 1.2, 1.2])
run_paths = [r.path for r in runs]
labels = {r.path: r.label for r in runs}
run = runs[run_paths.index(controls[0].selectbox("Model", run_paths, format_func=labels.get, key="prof_run"))]
attribute = sidebar.attribute_box(controls[1], attributes, key="prof_attr")
max_people = int(graph.target_table.counts().max()) if graph.target_table.num_values else 1
min_support = controls[2].number_input("Minimum people per profession", min_value=1,
                                       max_value=max(1, max_people), value=min(10, max(1, max_people)), step=1,
                                       key="prof_min", help="Professions held by fewer people are left out: their "
                                                            "scores rest on too few people to mean much.")
top = controls[3].slider("Rows per list", 5, 40, 20, key="prof_top")

def _scaled(table, value):
    """The table as shown: B in readable units (see the column title), without the entity id and the total
    (both are in the CSV)."""
    shown = table.drop(columns=["entity", "people"]).copy()
    shown[f"B_{value}"] = shown[f"B_{value}"] * factor
    return shown


def _columns(value, counts):
    return {
        "label": st.column_config.TextColumn("profession", width=140),
        f"B_{value}": st.column_config.NumberColumn("link", format="%.2f", width=56,
                                                    help=f"How strongly the model links the profession with {value}: "
                                                         f"the bias score B toward {value}" + (
                                                        f", shown {unit}" if unit else "") + ". B is the mean "
                                                         "change of the model's score for the profession when a "
                                                         f"person's vector is nudged towards {value}."),
        f"share_{value}": st.column_config.ProgressColumn(f"% {value}", format="percent", min_value=0.0,
                                                         max_value=1.0, width=70,
                                                         help=f"Share of {value} among the profession's "
                                                              "people with a recorded value (data)"),
        **{c: st.column_config.NumberColumn(c.removeprefix("C_"), width=56,
                                            help=f"People in the graph recorded as {c.removeprefix('C_')} "
                                                 "who hold the profession") for c in counts},
    }


with guard("the bias measurement"):
    import pandas as pd
    from kgcore.analysis.tables import count_columns

    result = results.bias_result(run, attribute)
    b_columns = [c for c in result.frame.columns if c.startswith("B_")]
    factor, unit = display_scale(result.frame[b_columns].to_numpy().ravel())
    unit = f"({unit})" if unit else ""
    values = list(result.values)
    if len(values) < 2:
        st.warning(f"{attribute!r} has a single value in this graph, so there is nothing to compare.")
        st.stop()
    binary = len(values) == 2
    if binary:
        low, high = values[0], values[1]
    else:
        high = st.selectbox(f"Value of {attribute} to examine", values, index=1 if len(values) > 1 else 0,
                            key="prof_value")
        low = f"not {high}"
    moved = "one step" if result.steps == 1 else f"{result.steps} steps"
    measured = ("the probability the model gives each profession (its scores for all professions turned into "
                "chances that add up to one)" if result.use_probability else "the model's raw score for each profession")
    st.caption(f"{result.people:,} people with a recorded {attribute} were each moved {moved} "
               f"(size {result.step_size:g}) towards each value; B is the mean change of {measured}. "
               + ("Gender is recorded as binary in these data." if attribute == "gender" else ""))

    # ---------------------------------------------------------------- tables
    colours = value_colours(values)
    counts = count_columns(result, high)
    names, numbers, missing = results.attribute_counts(ctx.dataset.data_json, attribute)
    recorded_total = max(sum(numbers), 1)
    st.markdown("**Base rate in this graph:** " + " · ".join(
        f"{name} {n / recorded_total:.0%}" for name, n in list(zip(names, numbers))[:8])
        + f" of the {recorded_total:,} people with a recorded {attribute}. A profession's % column is read "
          "against this: a job held by exactly this share of each value is balanced in the data.")

    def _listing(table, value, side):
        if table.empty:
            st.info(f"No profession with at least {min_support} people is on the {value} side for this model; "
                    "lower the minimum to see more.")
        elif len(table) < top:
            st.caption(f"Only {len(table)} professions with at least {min_support} people are on the "
                       f"{value} side ({side}); the list stops there rather than show ones the model links "
                       "the other way.")

    if binary:
        left, right = st.columns(2, gap="large")
        tables = {}
        for col, value in ((left, low), (right, high)):
            with col:
                st.subheader(f"Most {value}-associated")
                table = results.bias_table(run, attribute, value, top, int(min_support))
                tables[value] = table
                _listing(table, value, "link above zero")
                if not table.empty:
                    st.dataframe(_scaled(table, value), height=min(35 * (len(table) + 1) + 3, 760),
                                 column_config=_columns(value, count_columns(result, value)))
        chart_rows = result.frame[result.frame["entity"].isin(
            set(tables[low]["entity"]) | set(tables[high]["entity"]))]
    else:
        table = results.bias_table(run, attribute, high, top, int(min_support))
        st.subheader(f"Most associated with {high}")
        _listing(table, high, "link above zero")
        if not table.empty:
            st.dataframe(_scaled(table, high), column_config=_columns(high, counts))
        least = results.bias_table(run, attribute, high, top, int(min_support), least=True)
        chart_rows = pd.concat([table, least]).drop_duplicates("entity")

    if chart_rows.empty:
        st.info(f"No profession has at least {min_support} people; lower the minimum.")
        st.stop()

    # ---------------------------------------------------------------- charts
    st.subheader("Bias beside the counts")
    count_labels = [c.removeprefix("C_") for c in counts]
    scaled_rows = chart_rows.assign(**{f"B_{high}": chart_rows[f"B_{high}"] * factor})
    st.plotly_chart(charts.bias_and_counts(scaled_rows, f"B_{high}", counts, count_labels, low, high,
                                           colours, unit),
                    key="prof_bars")

    st.subheader("Does the model follow the data?")
    points, stats = results.data_vs_model(run, attribute, high, int(min_support))
    left, right = st.columns([3, 1], gap="large")
    with left:
        scaled_points = points.assign(**{f"B_{high}": points[f"B_{high}"] * factor})
        st.plotly_chart(charts.bias_vs_share(scaled_points, f"share_{high}", f"B_{high}", high,
                                             stats["overall_share"], colours[high], unit),
                        key="prof_scatter")
    with right:
        st.metric("Professions shown", f"{stats['professions']:,}")
        if stats["spearman"] != stats["spearman"]:  # NaN: too few professions, or no spread
            st.info("Too few professions pass the minimum for a correlation; lower the minimum.")
        else:
            st.metric("Does the model follow the counts?", f"{stats['spearman']:.2f}",
                      help="1: the more a job is held by this value in the data, the stronger the model's link, "
                           "always; 0: no such order. Technically: Spearman rank correlation between the data's "
                           f"share and the model's B across professions (Pearson: {stats['pearson']:.2f}).")
        st.caption(f"Each point is a profession. Left to right: the share of {high} among its people in the "
                   f"graph. Bottom to top: the model's bias score B. Points high above others at the same share are "
                   "professions where the model's association is stronger than the counts alone suggest; "
                   "points near zero are ones it has dampened.")

    frame = result.frame[result.frame["people"] >= min_support]
    st.download_button("Download all professions as CSV", frame.to_csv(index=False).encode("utf-8"),
                       file_name=f"bias_{attribute}_{run.model}_{slug(run.name)}.csv", mime="text/csv",
                       icon=":material/download:", key="prof_download")
