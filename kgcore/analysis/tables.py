"""Tables of the measured bias: the top professions per value with their training counts, and the
model's B_p beside the data's own share of each value."""
from __future__ import annotations

from typing import Any

import pandas as pd

from .measure import DEFAULT_MIN_SUPPORT, BiasResult


MAX_COUNTED_VALUES = 4  # beyond this many values, tables count the value and "other" instead of each value


def count_columns(result: BiasResult, value: str) -> list[str]:
    """The count columns ``bias_table`` gives for ``value``: ``C_<v>`` for every value of an attribute with
    at most four values; otherwise ``C_<value>`` and ``C_other`` (people with any other recorded value)."""
    label = result.resolve(value)
    if len(result.values) <= MAX_COUNTED_VALUES:
        return [f"C_{v}" for v in result.values]
    return [f"C_{label}", "C_other"]


def bias_table(result: BiasResult, value: str, top: int = 20, min_support: int = DEFAULT_MIN_SUPPORT,
               least: bool = False, same_side: bool = True) -> pd.DataFrame:
    """The ``top`` professions the model most associates with ``value`` (largest B_p^value), among those
    with at least ``min_support`` people in the training graph; with ``least=True`` the ``top`` with the
    smallest B_p^value instead, smallest first.

    With ``same_side`` (the default) only professions on that side of zero are listed (B > 0 for the most
    associated, B < 0 for the least): a "most female-associated" list never holds a profession the model
    links the other way, so it may be shorter than ``top``.

    Rows: label, B, counts per value (``count_columns``: for attributes with more than four values, the
    value's count and the count of all other recorded values), the data share of the value, people, entity.
    Index: rank from 1.
    """
    label = result.resolve(value)
    frame = result.frame
    frame = frame[frame["people"] >= min_support]
    b = f"B_{label}"
    if same_side:
        frame = frame[frame[b] < 0] if least else frame[frame[b] > 0]
    ordered = frame.sort_values([b, "label"], ascending=[least, True]).head(top)
    table = ordered[["label", b]].copy()
    for column in count_columns(result, label):
        if column == "C_other":
            recorded = ordered["people"] - ordered["C_unknown"]
            table[column] = recorded - ordered[f"C_{label}"]
        else:
            table[column] = ordered[column]
    table[f"share_{label}"] = ordered[f"share_{label}"]
    table["people"] = ordered["people"]
    table["entity"] = ordered["entity"]
    table.index = pd.RangeIndex(1, len(table) + 1, name="rank")
    return table


def data_vs_model(result: BiasResult, value: str, min_support: int = 1) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per profession: the data's share of ``value`` beside the model's B_p^value, and their Pearson and
    Spearman correlations across professions (those with at least ``min_support`` people with a recorded
    value; a share needs at least one). A positive correlation means the model's associations follow
    the graph's counts; B large where the share is near the overall share points to other structure.
    """
    label = result.resolve(value)
    frame = result.frame
    recorded = frame["people"] - frame["C_unknown"]
    keep = recorded >= max(min_support, 1)
    out = frame.loc[keep, ["entity", "label", "people"]].copy()
    out["recorded"] = recorded[keep]
    out[f"share_{label}"] = frame.loc[keep, f"share_{label}"]
    out[f"B_{label}"] = frame.loc[keep, f"B_{label}"]
    out = out.sort_values(f"B_{label}", ascending=False).reset_index(drop=True)
    x, y = out[f"share_{label}"], out[f"B_{label}"]
    enough = len(out) >= 3 and x.nunique() > 1 and y.nunique() > 1
    stats = {
        "value": label,
        "professions": int(len(out)),
        "pearson": float(x.corr(y)) if enough else float("nan"),
        "spearman": float(x.rank().corr(y.rank())) if enough else float("nan"),
        "overall_share": float(out[f"share_{label}"].mul(out["recorded"]).sum() / max(out["recorded"].sum(), 1)),
    }
    return out, stats
