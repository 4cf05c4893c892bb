"""Named settings that reproduce a paper: model, training, per-model options and evaluation in one word.

``fisher2020`` is the setting both Fisher et al. papers trained with (``../shared/reference/papers.md``
sections 1 and 3; Debiasing, Sec. 5.2): TransE with dot-product similarity, d = 200, each positive's softmax
cross-entropy against 1000 negatives, AdaGrad with learning rate 0.1 warmed up linearly over the first epoch,
50 epochs. Choices where the text is silent, said once here: the negatives are one pool of 1000 entities
shared by a batch of 1000 positives and scored as heads and as tails of each (PyTorch-BigGraph, their engine,
shares negatives within batch chunks) in one softmax per positive; 250 of the pool are the batch's own heads
and tails and the rest uniform draws (PyTorch-BigGraph's batch negatives, at five times its default share: a
value then comes up as a negative in proportion to how often it is a head or tail, so the loss no longer
rewards scoring the most frequent value high for everyone; 50 was too few for that); the score is eq. 1's, one
translation per relation (PyTorch-BigGraph's dynamic relations keep one per side, which ``--interaction
transe-dot-reciprocal`` follows: better link prediction, but the KL term with the paper's weights then removes
far less, see the README); entity vectors are unconstrained (PyTorch-BigGraph's default); and the sensitive
relations' triples are left out of valid and test as in their "(filtered)" datasets. KL weights are the
paper's FB15K ones (gender 1; religion, ethnicity, nationality 100); Bose & Hamilton's filters run with gamma
10 (what the debiasing paper ran) and five discriminator steps per batch (their FB15k-237 script).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import KGError


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: dict[str, Any]  # ModelConfig fields
    train: dict[str, Any]  # TrainConfig fields
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # per model name: its options
    without_sensitive: bool = False  # evaluate without the sensitive relations' triples

    def model_options(self, model: str, debias: list[str]) -> dict[str, Any]:
        """The preset's options of ``model``; per-attribute weights kept for the attributes debiased."""
        options = dict(self.options.get(model, {}))
        for name, value in options.items():
            if isinstance(value, dict) and "*" in value:
                options[name] = {k: v for k, v in value.items() if k == "*" or k in debias}
        return options


FISHER2020 = Preset(
    name="fisher2020",
    description="Fisher et al. (2020): TransE with dot product, d = 200, softmax over 1000 shared negatives "
                "(250 from the batch), AdaGrad 0.1 with a one-epoch warm-up, 50 epochs; sensitive triples left "
                "out of valid and test",
    model={"interaction": "transe-dot", "dim": 200, "entity_norm": False},
    train={"loss": "softmax", "negative_mode": "shared", "num_negatives": 1000, "batch_negatives": 250,
           "batch_size": 1000, "optimizer": "adagrad", "lr": 0.1, "warmup_epochs": 1.0, "epochs": 50},
    options={"kl": {"kl_weight": {"*": 100.0, "gender": 1.0}}, "bose": {"gamma": 10.0, "d_steps": 5}},
    without_sensitive=True,
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (FISHER2020,)}


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise KGError(f"Unknown preset {name!r}; choose one of: {', '.join(PRESETS)}.")
    return PRESETS[name]
