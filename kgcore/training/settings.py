"""Checks of training settings before any work starts: every number within its range and of its type,
every choice one of its choices, and the device one this machine has.

Each problem is one ``KGError`` naming the setting, the value given and what to give instead, so a typo
costs nothing: no data is loaded and no folder is written before these pass. Values read back from a
run's ``config.json`` go through the same checks, so a hand-edited file is refused in the same words.
"""
from __future__ import annotations

import math
import re
from typing import Any

import torch

from ..errors import KGError

MAX_COUNT = 10**9  # whole-number settings above this are typos (or would never finish)
MAX_SEED = 2**63 - 1  # torch's generator takes a signed 64-bit seed
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def whole_number(name: str, value: Any, low: int, high: int = MAX_COUNT) -> None:
    """``value`` is an int (not a bool) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise KGError(f"{name} must be a whole number (got {value!r}).")
    if not low <= value <= high:
        raise KGError(f"{name} must be between {low} and {high} (got {value}).")


def finite_number(name: str, value: Any, low: float, *, strictly_above: bool = False,
                  high: float = math.inf) -> None:
    """``value`` is a finite int or float at least ``low`` (above it with ``strictly_above``), at most ``high``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KGError(f"{name} must be a number (got {value!r}).")
    if not math.isfinite(value):
        raise KGError(f"{name} must be a finite number (got {value}).")
    too_low = value <= low if strictly_above else value < low
    if too_low or value > high:
        bound = f"above {low:g}" if strictly_above else f"at least {low:g}"
        raise KGError(f"{name} must be {bound}" + (f" and at most {high:g}" if high < math.inf else "")
                      + f" (got {value:g}).")


def choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> None:
    if value not in choices:
        raise KGError(f"{name} must be one of {', '.join(choices)} (got {value!r}).")


def check_device(name: Any) -> None:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``, and CUDA only where torch sees a GPU."""
    if not isinstance(name, str) or not DEVICE_PATTERN.match(name):
        raise KGError(f"device must be auto, cpu, cuda or cuda:N (got {name!r}).")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise KGError(f"device {name} was asked for, but torch sees no CUDA GPU on this machine; "
                          "use device cpu (or auto).")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise KGError(f"device {name} does not exist: this machine has {torch.cuda.device_count()} CUDA "
                          "GPU(s), numbered from 0.")


def check_train_settings(config: Any, losses: tuple[str, ...], optimizers: tuple[str, ...],
                         negative_modes: tuple[str, ...]) -> None:
    """Every field of a ``TrainConfig``."""
    choice("loss", config.loss, losses)
    choice("optimizer", config.optimizer, optimizers)
    choice("negative mode", config.negative_mode, negative_modes)
    if config.negative_mode == "shared" and config.filtered_negatives:
        raise KGError("Filtered negatives are only supported with negative_mode='corrupt'.")
    whole_number("epochs", config.epochs, 1, 10**6)
    whole_number("batch_size", config.batch_size, 1)
    whole_number("num_negatives (negatives per positive)", config.num_negatives, 1, 10**6)
    whole_number("batch_negatives (negatives drawn from the batch)", config.batch_negatives, 0,
                 config.num_negatives)
    if config.batch_negatives and config.negative_mode != "shared":
        raise KGError("batch_negatives takes part of the shared pool from the batch; it needs negative_mode "
                      "'shared' (--negative-mode shared); set it to 0 (--batch-negatives 0) for other modes.")
    finite_number("learning rate", config.lr, 0.0, strictly_above=True)
    finite_number("margin", config.margin, 0.0)
    finite_number("adversarial temperature", config.adversarial_temperature, 0.0)
    finite_number("warmup_epochs", config.warmup_epochs, 0.0, high=10**6)
    whole_number("seed", config.seed, 0, MAX_SEED)
    whole_number("eval_every (epochs between validation checks; 0: never)", config.eval_every, 0)
    if config.eval_max_triples is not None:
        whole_number("eval_max_triples", config.eval_max_triples, 1)
    whole_number("patience (validation checks without improvement)", config.patience, 1)
    check_device(config.device)
    if not isinstance(config.withheld_relations, (list, tuple)) or \
            not all(isinstance(r, str) for r in config.withheld_relations):
        raise KGError(f"withheld_relations must be a list of relation names (got {config.withheld_relations!r}).")
