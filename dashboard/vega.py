"""Vega-Lite charts for the page a launch opens on. Vega-Lite is the chart library Streamlit's front end already
holds, so the Overview's first chart draws without plotly: no plotly import in the server, no plotly bundle to
fetch and parse in the browser. Drawing only, in the colours of ``kgcore.colours`` like every plotly figure.

The rows sit inline in a layer, not in the spec's top-level ``data``: ``st.vega_lite_chart`` turns top-level
data into Arrow (importing pandas and pyarrow before the chart can be sent), while a layer's rows travel as
they are.
"""
from __future__ import annotations

from typing import Any

from kgcore.colours import INK, MISSING, value_colours

FONT_FAMILY = "Inter, 'Source Sans Pro', sans-serif"  # the dashboard's charts, plotly's too


def value_counts(values: list[str], people: list[int], missing: int, attribute: str,
                 limit: int = 12) -> dict[str, Any]:
    """People per value of an attribute, each bar in its value's colour and labelled with its count and share
    (the seed's Wikidata figure of men and women); values past ``limit`` are summed into one bar."""
    values, people = list(values), list(people)
    palette = value_colours(values)
    if len(values) > limit:
        values = values[:limit] + [f"{len(values) - limit} other values"]
        people = people[:limit] + [sum(people[limit:])]
    if missing:
        values, people = values + ["not recorded"], people + [missing]
    total = max(sum(people), 1)
    rows = [{attribute: value, "people": count, "label": f"{count:,} ({count / total:.0%})"}
            for value, count in zip(values, people)]
    x = {"field": attribute, "type": "nominal", "sort": None, "title": attribute,
         "axis": {"labelAngle": 0, "labelLimit": 120}}
    return {
        "title": {"text": f"People by recorded {attribute}", "anchor": "start", "font": FONT_FAMILY,
                  "fontSize": 15, "fontWeight": "normal", "color": INK},
        "height": 320,
        "layer": [
            {"data": {"values": rows}, "mark": {"type": "bar", "cornerRadiusEnd": 2},
             "encoding": {"x": x,
                          "y": {"field": "people", "type": "quantitative", "title": "people",
                                "scale": {"domainMin": 0, "nice": True}},
                          "color": {"field": attribute, "type": "nominal", "legend": None,
                                    "scale": {"domain": values, "range": [palette.get(v, MISSING) for v in values]}},
                          "tooltip": [{"field": attribute, "type": "nominal"},
                                      {"field": "people", "type": "quantitative", "format": ","}]}},
            {"data": {"values": rows}, "mark": {"type": "text", "dy": -8, "color": INK, "font": FONT_FAMILY},
             "encoding": {"x": x, "y": {"field": "people", "type": "quantitative"},
                          "text": {"field": "label", "type": "nominal"}}},
        ],
        "config": {"font": FONT_FAMILY, "view": {"stroke": None},
                   "axis": {"labelFontSize": 12, "titleFontSize": 13}},
    }
