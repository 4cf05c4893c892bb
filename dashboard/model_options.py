"""The Train page's controls for a model's own options, generated from its registry entry's options
dataclass (``kgcore.models.options``): each field says its label, help, choices and widget."""
from __future__ import annotations

from typing import Any, Callable

import pandas as pd
import streamlit as st


def _weights(spec, key: str, container, default: dict[str, float]) -> dict[str, float]:
    """One weight for every attribute removed (the first named one's, where defaults differ per attribute)."""
    args = spec.widget_args
    named = [v for k, v in default.items() if k != "*"]
    default = float(named[0] if named else default.get("*", 1.0))
    value = container.slider(spec.label, float(args.get("low", 0.0)), float(args.get("high", 10.0)), default,
                             float(args.get("step", 0.1)), key=key, help=spec.help)
    return {"*": float(value)}


def _table(spec, key: str, container, rows: pd.DataFrame, relations: list[str]) -> pd.DataFrame:
    container.markdown(f"**{spec.label}**: facts where the attribute may legitimately matter, such as "
                       "*occupation: nun*. Use an entity id or label, or `*` for every tail of a relation.")
    return container.data_editor(rows, num_rows="dynamic", key=key, width="stretch", column_config={
        "relation": st.column_config.SelectboxColumn("relation", options=relations, required=True),
        "tail": st.column_config.TextColumn("tail (entity or *)", required=True)})


def option_controls(entry, relations: list[str], table_rows: pd.DataFrame, defaults: dict[str, Any] | None = None,
                    suffix: str = "") -> dict[str, Callable[[], Any]]:
    """Draw one control per option of ``entry`` (inside the caller's form; ``defaults`` override the options
    dataclass's, e.g. a preset's) and return, per option name, how to read its value once the form is
    submitted (tables are resolved by the caller). ``suffix`` keeps each setting's controls apart."""
    defaults = defaults or {}
    values: dict[str, Callable[[], Any]] = {}
    specs = entry.option_specs()
    simple = [s for s in specs if s.widget != "table"]
    cols = st.columns(max(1, min(3, len(simple)))) if simple else []
    for i, spec in enumerate(simple):
        key = f"train_{entry.name}_{spec.name}" + (f"_{suffix}" if suffix else "")
        box = cols[i % len(cols)]
        default = defaults.get(spec.name, spec.default)
        if spec.widget == "weights":
            value = _weights(spec, key, box, default)
        elif spec.widget == "choice":
            value = box.selectbox(spec.label, spec.choices, index=list(spec.choices).index(default), key=key,
                                  help=spec.help)
        elif spec.widget == "steps":
            steps = sorted(set(spec.widget_args["values"]) | {default})
            value = box.select_slider(spec.label, steps, value=default, key=key, help=spec.help)
        elif spec.widget == "slider":
            args = spec.widget_args
            value = box.slider(spec.label, args["low"], args["high"], default, args.get("step", 1), key=key,
                               help=spec.help)
        else:
            value = box.number_input(spec.label, value=default, key=key, help=spec.help,
                                     format="%g" if isinstance(default, float) else "%d")
        values[spec.name] = lambda value=value: value
    for spec in specs:
        if spec.widget == "table":
            frame = _table(spec, f"train_{entry.name}_{spec.name}", st, table_rows, relations)
            values[spec.name] = lambda frame=frame: frame
    return values
