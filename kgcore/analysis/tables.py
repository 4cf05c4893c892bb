"""Tables of the measured bias: the top professions per value with their training counts, and the
model's B_p beside the data's own share of each value."""
from __future__ import annotations

from typing import Any

import pandas as pd

from .measure import DEFAULT_MIN_SUPPORT, BiasResult


def bias_table(result: BiasResult, value: str, top: int = 20, min_support: int = DEFAULT_MIN_SUPPORT) -> pd.DataFrame:
    """The ``top`` professions the model most associates with ``value`` (largest B_p^value), among those
    with at least ``min_support`` people in the training graph.

    Rows: label, B, counts per value (for attributes with more than four values: the value's count and
    the count of all other recorded values), the data share of the value, people. Index: rank from 1.
    """
    label = result.resolve(value)
    frame = result.frame
    frame = frame[frame["people"] >= min_support]
    b = f"B_{label}"
    ordered = frame.sort_values([b, "label"], ascending=[False, True]).head(top)
    columns = ["label", b]
    table = ordered[columns].copy()
    if len(result.values) <= 4:
        for other in result.values:
            table[f"C_{other}"] = ordered[f"C_{other}"]
    else:
        table[f"C_{label}"] = ordered[f"C_{label}"]
        recorded = ordered["people"] - ordered["C_unknown"]
        table["C_other"] = recorded - ordered[f"C_{label}"]
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
