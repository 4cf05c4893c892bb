"""Optional dependencies, each behind a pip extra (``kgcore[pbg]``, ``kgcore[pykeen]``, ``kgcore[ray]``):
the core package never imports them, and a command that needs one says in one line what to install."""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import KGError

# module -> (extra that installs it, what it is needed for)
EXTRAS = {
    "h5py": ("pbg", "reading PyTorch-BigGraph checkpoints (HDF5)"),
    "pykeen": ("pykeen", "reading models saved by PyKEEN"),
    "ray": ("ray", "running sweeps on Ray"),
}


class MissingExtraError(KGError):
    """An optional dependency a command needs is not installed."""


def require(module: str) -> ModuleType:
    """Import ``module`` or raise a one-line ``MissingExtraError`` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra, purpose = EXTRAS.get(module, (None, "this command"))
        hint = f"pip install 'kgcore[{extra}]'" if extra else f"pip install {module}"
        raise MissingExtraError(f"{module} is not installed, and it is needed for {purpose}; "
                                f"install it with {hint}.") from exc
