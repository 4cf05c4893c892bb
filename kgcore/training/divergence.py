"""Finite numbers only: a diverged training, non-finite weights or a metric outside its range is an error,
never a result.

A learning rate too large for the loss (or a margin or temperature that is not a number) drives the loss
and then every weight to inf or NaN; ranks computed from NaN scores come out as rank 1 everywhere, so such
a model would look perfect. Training checks the loss and the parameters once per epoch (cheap next to an
epoch), and every metric is checked for its range before it is written and when it is read back.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

import torch

from ..errors import CheckpointError, KGError

if TYPE_CHECKING:
    from .loop import TrainConfig

# Metrics that are shares or reciprocal ranks: always within [0, 1].
UNIT_METRICS = ("mrr", "hits@")


class DivergedError(KGError):
    """Training produced a loss or weights that are not finite numbers."""


def nonfinite_tensors(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors of ``state`` holding a NaN or an infinity."""
    return [name for name, value in state.items()
            if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all())]


def likely_cause(config: "TrainConfig") -> str:
    """The setting most likely to have made training diverge, as advice."""
    for name, value in (("margin", config.margin), ("adversarial temperature", config.adversarial_temperature),
                        ("learning rate", config.lr), ("warm-up epochs", config.warmup_epochs)):
        if not math.isfinite(value):
            return f"the {name} is {value}; give a finite number"
    if config.loss == "nssa" and abs(config.adversarial_temperature) > 100:
        return (f"the adversarial temperature {config.adversarial_temperature:g} is likely too large; "
                "try 1 or less")
    if abs(config.margin) > 1e6:
        return f"the margin {config.margin:g} is likely too large; try 1 to 10"
    return (f"the learning rate {config.lr:g} ({config.optimizer}) is likely too large; "
            f"try {config.lr / 10:g} or less")


def check_training_finite(loss: float, model: torch.nn.Module, epoch: int, config: "TrainConfig") -> None:
    """Raise ``DivergedError`` when the epoch's loss or any parameter or buffer is not finite."""
    bad = [] if math.isfinite(loss) else [f"the loss is {loss}"]
    names = nonfinite_tensors(dict(model.named_parameters()) | dict(model.named_buffers()))
    if names:
        bad.append("non-finite weights in " + ", ".join(names[:3]) + (" ..." if len(names) > 3 else ""))
    if bad:
        raise DivergedError(f"training diverged at epoch {epoch} ({'; '.join(bad)}): {likely_cause(config)}. "
                            "Nothing was saved.")


def metric_problem(key: str, value: Any) -> str | None:
    """Why ``value`` cannot be the metric ``key`` (None when it can)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return f"{key} is {value}"
        if key.startswith(UNIT_METRICS) and not 0 <= value <= 1:
            return f"{key} is {value:g}, outside [0, 1]"
        if key == "mean_rank" and value < 1:
            return f"mean_rank is {value:g}, below 1"
    return None


def metrics_problems(metrics: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every metric of a (nested) metrics mapping that is not finite or lies outside its range."""
    problems = []
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            problems += metrics_problems(value, f"{prefix}{key}.")
        else:
            problem = metric_problem(str(key), value)
            if problem:
                problems.append(prefix + problem)
    return problems


def check_metrics(metrics: Mapping[str, Any], where: str) -> None:
    """Refuse metrics with a value that is not finite or lies outside its range (``where`` names them)."""
    problems = metrics_problems(metrics)
    if problems:
        raise CheckpointError(f"{where} holds impossible metrics ({'; '.join(problems[:3])}): the model diverged "
                              "or the file was damaged; retrain the run.")


def check_weights(state: Mapping[str, torch.Tensor], where: str) -> None:
    """Refuse weights holding NaN or infinities (a diverged training's)."""
    names = nonfinite_tensors(state)
    if names:
        raise CheckpointError(f"{where} holds non-finite weights ({', '.join(names[:3])}): the training "
                              "diverged; retrain with a smaller learning rate.")
