"""The debiasing paper's published figures on FB15K (Fisher et al., EMNLP 2020, Tables 3-6;
``../shared/reference/papers.md`` section 5), for reports and pages that show them beside our own runs.

FB15K is not the graph the project trains on (FB15k-237 is its subset without inverse relations), so these
are a labelled reference: compare patterns and ratios, not values. Keys are the paper's five rows; None
where the paper gives no figure.
"""
from __future__ import annotations

ATTRIBUTES = ("gender", "religion", "ethnicity", "nationality")
LABELS = {"basic": "Basic", "bose_s": "Bose & Ham. [s]", "bose_a": "Bose & Ham. [a]", "kl": "KL",
          "kl_attr": "KL + Attr."}
# Table 3 (seconds per epoch) and Table 4 (test MRR, Hits@1, @10, @50; "(filtered)" datasets).
SPEED_AND_LINK_PREDICTION = {
    "basic": (68.4, 0.680, 0.555, 0.871, 0.937), "bose_s": (533.3, 0.426, 0.300, 0.655, 0.821),
    "bose_a": (None, None, None, None, None), "kl": (71.0, 0.671, 0.534, 0.853, 0.924),
    "kl_attr": (89.4, 0.679, 0.537, 0.861, 0.931)}
# Table 5: difference in scores per attribute, in ATTRIBUTES' order.
DIFFERENCE_IN_SCORES = {
    "basic": (2.79, 4.41, 6.64, 2.85), "bose_s": (2.75, 3.15, 3.62, 1.53), "bose_a": (6.85, 9.76, 11.13, 5.46),
    "kl": (None, None, None, None), "kl_attr": (0.19, 0.60, 1.26, 0.47)}
# Table 6: accuracy of the one-hidden-layer classifier per attribute, and the most-frequent-class rate.
CLASSIFIER_ACCURACY = {
    "most frequent": (0.767, 0.292, 0.142, 0.594), "basic": (0.990, 0.552, 0.534, 0.799),
    "bose_s": (0.933, None, None, None), "bose_a": (0.934, None, None, None), "kl": (None, None, None, None),
    "kl_attr": (0.767, 0.291, 0.166, 0.594)}


def reference_rows(attribute: str) -> list[dict]:
    """One row per model of the paper for ``attribute`` (empty when the paper did not measure it): label,
    seconds per epoch, MRR, Hits@10, difference in scores, classifier accuracy and the most-frequent rate."""
    if attribute not in ATTRIBUTES:
        return []
    k = ATTRIBUTES.index(attribute)
    return [{"model": label, "seconds per epoch": SPEED_AND_LINK_PREDICTION[key][0],
             "MRR": SPEED_AND_LINK_PREDICTION[key][1], "Hits@10": SPEED_AND_LINK_PREDICTION[key][3],
             "score gap": DIFFERENCE_IN_SCORES[key][k], "classifier accuracy": CLASSIFIER_ACCURACY[key][k],
             "always-majority rate": CLASSIFIER_ACCURACY["most frequent"][k]}
            for key, label in LABELS.items()]
