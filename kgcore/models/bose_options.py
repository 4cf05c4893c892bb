"""Bose & Hamilton's options: the typed settings of the adversarial-filter model (``kgcore.models.bose``),
from which the ``train`` flags and the dashboard's Train controls are generated (``kgcore.models.options``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpecError
from .options import check_choice, option

ADVERSARY_LOSSES = ("ce", "l1")
SAMPLE_MASKS = ("auto", "on", "off")
COMPOSITIONS = ("mean", "sum")
FILTER_SETS = ("a", "s")
FILTER_NORMS = ("batch", "none")


@dataclass
class BoseOptions:
    gamma: float = option(1.0, "weight of the discriminators' loss in the filters' objective (0: none)",
                          label="Adversary weight (gamma)", widget="steps",
                          values=(0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0))
    adversary_loss: str = option("ce", "the discriminators' loss: cross-entropy, or their L1 form 1 - p(true value)",
                                 label="Adversary loss", choices=ADVERSARY_LOSSES)
    d_steps: int = option(5, "discriminator steps per training batch", label="Discriminator steps",
                          widget="slider", low=1, high=10, step=1)
    d_lr: float = option(1e-3, "the discriminators' learning rate (Adam, AMSGrad)", label="Discriminator learning rate")
    sample_mask: str = option("auto", "sample the set of filtered attributes per batch (auto: with two or more)",
                              label="Sample attribute sets", choices=SAMPLE_MASKS)
    filters: str = option("a", "[a]: every debiased attribute's filter, composed; [s]: the one debiased attribute's "
                          "filter alone (one --debias attribute per run)", label="Filters ([a] all, [s] single)",
                          choices=FILTER_SETS)
    compose: str = option("mean", "how C(u, S) combines the filters in S: their mean (the paper's text) or their sum "
                          "(the authors' code)", label="Filter composition", choices=COMPOSITIONS)
    filter_norm: str = option("batch", "end each filter with BatchNorm1d as the authors' code does (batch statistics "
                              "while training, running ones at evaluation), or not", label="Filter normalisation",
                              choices=FILTER_NORMS)

    def __post_init__(self) -> None:
        check_choice("adversary_loss", self.adversary_loss, ADVERSARY_LOSSES)
        check_choice("sample_mask", self.sample_mask, SAMPLE_MASKS)
        check_choice("filters", self.filters, FILTER_SETS)
        check_choice("compose", self.compose, COMPOSITIONS)
        check_choice("filter_norm", self.filter_norm, FILTER_NORMS)
        if not self.gamma >= 0 or self.d_steps < 1 or not self.d_lr > 0:
            raise SpecError(f"bose needs gamma >= 0, d_steps >= 1 and d_lr > 0 (got {self.gamma}, {self.d_steps}, "
                            f"{self.d_lr}).")
        if self.filters == "s" and self.sample_mask == "on":
            raise SpecError("bose with filters 's' always applies its one filter; sample_mask 'on' needs filters 'a'.")
