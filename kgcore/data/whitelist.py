"""Whitelists for attribute embeddings: (relation, tail) pairs where an attribute may legitimately matter."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError


def read_whitelist(path: str | os.PathLike) -> list[list[str]]:
    """Lines ``RELATION<TAB>TAIL`` (one pair) or ``RELATION`` alone (every tail); ``#`` starts a comment."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"Whitelist file {path} not found.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text.") from exc
    pairs: list[list[str]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) > 2 or not all(fields):
            raise DataError(f"{path}, line {line_no}: expected RELATION<TAB>TAIL or RELATION, got {line!r}.")
        pairs.append([fields[0], fields[1] if len(fields) == 2 else "*"])
    return pairs
