"""Reading triples files (``head<TAB>relation<TAB>tail``, optionally gzipped) with errors that name the line."""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

from ..errors import DataError

Triple = tuple[str, str, str]


def check_regular_file(path: Path, what: str = "a triples file (head<TAB>relation<TAB>tail per line)") -> None:
    """``path`` is a plain file: not missing, not a folder, and not a FIFO, socket or device, which would
    block a read forever or never end."""
    if not path.exists():
        raise DataError(f"{path}: file not found.")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected {what}.")
    if not path.is_file():
        raise DataError(f"{path}: is not a regular file (a pipe, socket or device); give {what} saved on disk.")


def read_bytes(path: Path) -> bytes:
    check_regular_file(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError; corrupt data zlib.error
        hint = " The gzip file is truncated or corrupted; compress it again." if path.suffix == ".gz" else ""
        raise DataError(f"{path}: cannot be read ({exc}).{hint}") from exc


def parse_triples(data: bytes | str, source: str = "<upload>") -> list[Triple]:
    """Parse tab-separated triples; blank lines and ``#`` comments are skipped.

    Every other line must have exactly three non-empty, tab-separated fields, so that a
    space-separated or truncated file fails loudly instead of producing a wrong graph.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line_no = data[: exc.start].count(b"\n") + 1
            raise DataError(
                f"{source}, line {line_no}: bytes that are not UTF-8 ({data[exc.start:exc.start + 4]!r}). "
                "Save the file as UTF-8 text."
            ) from exc
    else:
        text = data
    if text.startswith("\ufeff"):
        text = text[1:]
    triples: list[Triple] = []
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            hint = " (fields look space-separated; use tabs)" if len(fields) == 1 and " " in line else ""
            raise DataError(
                f"{source}, line {line_no}: expected 3 tab-separated fields (head, relation, tail), "
                f"found {len(fields)}{hint}: {line[:120]!r}"
            )
        head, relation, tail = (field.strip() for field in fields)
        if not head or not relation or not tail:
            raise DataError(f"{source}, line {line_no}: empty head, relation or tail: {line[:120]!r}")
        triples.append((head, relation, tail))
    if not triples:
        raise DataError(f"{source}: contains no triples. Expected lines of head<TAB>relation<TAB>tail.")
    return triples


def read_triples(path: str | os.PathLike) -> list[Triple]:
    """Read a triples file; ``.gz`` files are decompressed transparently."""
    path = Path(path)
    return parse_triples(read_bytes(path), source=str(path))


def write_triples(path: str | os.PathLike, triples: list[Triple]) -> None:
    """Write triples as TSV (gzipped when the name ends in ``.gz``)."""
    path = Path(path)
    payload = "".join(f"{h}\t{r}\t{t}\n" for h, r, t in triples).encode("utf-8")
    if path.suffix == ".gz":
        with gzip.open(path, "wb", mtime=0) as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)
