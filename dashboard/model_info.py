"""What the dashboard says about each kind of model: its label, a one-paragraph description, its place in
lists and its colour in charts. The one place these live, so that they can later be read from kgcore's
model registry instead."""
from __future__ import annotations

from typing import Iterable

MODEL_LABELS = {
    "transe": "Basic (TransE)",
    "kl": "KL-debiased TransE",
    "bose": "Bose & Hamilton filters",
}
MODEL_ORDER = {"transe": 0, "bose": 1, "kl": 2}  # the baseline first, then the two debiasing methods
MODEL_BLURBS = {
    "transe": "TransE (Bordes et al., 2013) learns a vector for every entity and relation so that head + "
              "relation lands near the tail. It learns whatever patterns the graph holds, including who holds "
              "which profession.",
    "bose": "TransE whose entity vectors pass through filters trained against adversaries that try to read "
            "the sensitive attribute from them; the filters learn to hide it (Bose & Hamilton, ICML 2019).",
    "kl": "TransE with an extra training term (a KL divergence) that pulls the model's guess of each person's "
          "gender towards even odds, so their vector stops encoding it; facts on a whitelist (nun, soprano) "
          "may keep their legitimate link (Fisher et al., EMNLP 2020).",
}
MODEL_COLOURS = {"transe": "#4c566a", "bose": "#d08770", "kl": "#5e81ac"}
TRAIN_CHOICES = ("transe", "kl", "bose")  # the Train page's order: the KL model beside the baseline


def model_label(model: str) -> str:
    """The readable name of a model (its registry name when the dashboard has none)."""
    return MODEL_LABELS.get(model, model)


def described_models() -> list[str]:
    """The models the Overview describes, in display order."""
    return sorted(MODEL_BLURBS, key=lambda m: MODEL_ORDER.get(m, len(MODEL_ORDER)))


def train_choices(installed: Iterable[str]) -> list[str]:
    """Installed models in the Train page's order: the three the dashboard describes, then any others."""
    installed = set(installed)
    return [m for m in TRAIN_CHOICES if m in installed] + sorted(installed - set(TRAIN_CHOICES))
