"""Where data lives on this machine: the environment variables and the cache folder that both loading
(``datasets``) and downloading (``download``) consult. Paths only (no torch), so the dashboard's sidebar
can ask without loading anything."""
from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "KGCORE_DATA_DIR"
CACHE_ENV = "KGCORE_CACHE"


def cache_dir() -> Path:
    """Where downloads and generated data live (``$KGCORE_CACHE``, default ``~/.cache/kgcore``)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "kgcore")


FB15K237_FILES = ("train.txt", "valid.txt", "test.txt")


def find_fb15k237(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first folder holding FB15k-237's train/valid/test files among the documented places."""
    candidates: list[Path] = []
    if data_dir:
        candidates += [Path(data_dir), Path(data_dir) / "fb15k-237"]
    if os.environ.get(DATA_DIR_ENV):
        env = Path(os.environ[DATA_DIR_ENV])
        candidates += [env / "fb15k-237", env]
    candidates.append(cache_dir() / "fb15k-237")
    for folder in candidates:
        if all((folder / name).exists() for name in FB15K237_FILES):
            return folder
    return None
