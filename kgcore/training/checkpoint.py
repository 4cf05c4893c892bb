"""The state of a training in progress, saved after every epoch so that a killed or interrupted training
continues where it stopped (``train --resume RUN``) and ends with the weights an uninterrupted one would.

``checkpoint.pt`` holds the weights, every optimizer's state, the epoch and step reached, every random
generator's state (the batching generator, torch's, Python's and NumPy's), the history so far and the
early-stopping bookkeeping; only tensors and plain Python values, so it loads with
``torch.load(weights_only=True)``. ``training.json`` beside it records what was being trained (model,
training and data settings, evaluation choices), so resuming needs nothing but the folder. Both are written
atomically into the run folder while it trains and disappear when the run is saved.
"""
from __future__ import annotations

import io
import pickle
import random
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..io import atomic_write, write_json

if TYPE_CHECKING:
    from .loop import EpochRecord

CHECKPOINT = "checkpoint.pt"
TRAINING_JOB = "training.json"
STATE_FORMAT = 1


def random_states(generator: torch.Generator) -> dict[str, Any]:
    numpy_state = np.random.get_state()
    return {"generator": generator.get_state(), "torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]]}


def restore_random_states(states: dict[str, Any], generator: torch.Generator) -> None:
    generator.set_state(states["generator"])
    torch.set_rng_state(states["torch"])
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))


def training_state(model: torch.nn.Module, optimizers: list, generator: torch.Generator, epoch: int, step: int,
                   history: list["EpochRecord"], best: dict[str, Any]) -> dict[str, Any]:
    """Everything ``train`` needs to continue after ``epoch`` exactly as if it had not stopped."""
    return {"format": STATE_FORMAT, "epoch": epoch, "step": step, "model": model.state_dict(),
            "optimizers": [opt.state_dict() for opt in optimizers], "inner_optimizer": model.inner_optimizer_state(),
            "random": random_states(generator),
            "history": [asdict(record) for record in history], "best": best}


def save_training_state(path: str | Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))


def load_training_state(path: str | Path) -> dict[str, Any]:
    """A saved training state, read without running any pickled code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: the training stopped before its first epoch ended, so there is "
                              "nothing to resume; start it again with --overwrite.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError,
            KeyError, IndexError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} is damaged ({type(exc).__name__}); start the training again with "
                              "--overwrite.") from exc
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or "optimizers" not in state:
        raise CheckpointError(f"{path} is not a kgcore training state (written by an older kgcore, which kept "
                              "only weights); start the training again with --overwrite.")
    return state


def restore_optimizers(optimizers: list, states: list, path: Path) -> None:
    if len(states) != len(optimizers):
        raise CheckpointError(f"{path} was saved by a training with other optimizers; start again with --overwrite.")
    for optimizer, saved in zip(optimizers, states):
        try:
            optimizer.load_state_dict(saved)
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{path} does not fit this training ({exc}); start again with --overwrite.") from exc


def write_training_job(folder: Path, job: dict[str, Any]) -> None:
    write_json(folder / TRAINING_JOB, job)
