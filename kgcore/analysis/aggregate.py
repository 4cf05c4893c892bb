"""One bias number per model with a bootstrap confidence interval over people."""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..errors import KGError
from ..data.graph import KnowledgeGraph
from ..models import KGEModel
from .measure import (DEFAULT_STEP_SIZE, DEFAULT_STEPS, DEFAULT_USE_PROBABILITY, check_parameters, check_professions,
                      evaluation_mode, per_person_changes, prepare_measurement, values_to_measure)

BOOTSTRAP_SAMPLES = 1000


def aggregate_bias(model: KGEModel, graph: KnowledgeGraph, attribute: str = "gender",
                   steps: int = DEFAULT_STEPS, step_size: float = DEFAULT_STEP_SIZE,
                   use_probability: bool = DEFAULT_USE_PROBABILITY, contrast: bool = True,
                   max_values: int | None = None, n_boot: int = BOOTSTRAP_SAMPLES, ci: float = 0.95,
                   seed: int = 0) -> dict[str, Any]:
    """One bias number per model, with a bootstrap confidence interval over people.

    A summary of the Measuring paper's per-profession scores (larger = more biased), kgcore's own (the
    Debiasing paper compares models by other measures): the mean absolute per-profession score,

        bias = (1 / |V|) * sum_v (1 / |T|) * sum_p | B_p^v |

    over the measured values V (both values for gender) and all professions T of the training graph, with
    B_p^v from ``measure_bias`` (same parameters). ``sum_abs`` is the same without dividing by |T|; with
    the default probability measure B^v sums to zero over professions, so ``sum_abs`` is twice the
    probability mass that the people's average response to a step towards v moves between professions.
    Values are on kgcore's scale, not the paper's, and scale with ``step_size``: compare models measured
    with equal settings.

    CI: percentile bootstrap over people: people are resampled with replacement ``n_boot`` times (one
    resample shared by every value and profession, drawn with ``numpy.random.default_rng(seed)``) and the
    statistic recomputed. |.| makes the statistic biased upwards near zero, so for a model with almost no
    bias the interval can sit above the point estimate; read it as a spread, not a test of zero.
    """
    check_parameters(steps, step_size)
    check_professions(graph, use_probability)
    if not 0 < ci < 1:
        raise KGError(f"ci must be between 0 and 1 (got {ci}).")
    if n_boot < 1:
        raise KGError(f"n_boot must be at least 1 (got {n_boot}).")
    started = time.perf_counter()
    with evaluation_mode(model):
        setup = prepare_measurement(model, graph, attribute)
        indices = values_to_measure(setup, None, max_values, attribute)
        n_people = int(setup.person_ids.numel())
        rng = np.random.default_rng(seed)
        weights = torch.from_numpy(rng.multinomial(n_people, np.full(n_people, 1.0 / n_people), size=n_boot)
                                   .astype(np.float32)).to(setup.base.device)  # [n_boot, P]
        point_per_value, boot = {}, torch.zeros(n_boot, dtype=torch.float64)
        for index in indices:
            d_score, d_prob = per_person_changes(model, setup, index, steps, step_size, contrast)
            changes = d_prob if use_probability else d_score
            point_per_value[setup.labels[index]] = float(changes.mean(0).abs().mean())
            boot += ((weights @ changes) / n_people).abs().mean(1).double().cpu()
    boot /= len(indices)
    point = float(np.mean(list(point_per_value.values())))
    n_professions = int(setup.target.num_values)
    low, high = np.quantile(boot.numpy(), [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return {
        "attribute": attribute,
        "bias": point,
        "ci_low": float(low),
        "ci_high": float(high),
        "ci": ci,
        "sum_abs": point * n_professions,
        "per_value": point_per_value,
        "values": list(point_per_value),
        "people": n_people,
        "professions": n_professions,
        "n_boot": n_boot,
        "seed": seed,
        "steps": steps,
        "step_size": step_size,
        "use_probability": use_probability,
        "contrast": contrast,
        "definition": "mean over values and professions of |B_p^v|, B_p^v = mean over people of the change of "
                      + ("P(p | person) (softmax over professions)" if use_probability else "S(person, r_p, p)")
                      + f" after {steps} gradient step(s) of size {step_size:g} towards v",
        "seconds": time.perf_counter() - started,
    }
