"""Colours of attribute values in every chart (models' colours are in model_info)."""
from __future__ import annotations

# Colour-blind-safe, not blue/pink: one colour per attribute value, in the table's order.
VALUE_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]


def value_colour(index: int) -> str:
    return VALUE_COLOURS[index % len(VALUE_COLOURS)]
