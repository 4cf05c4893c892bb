"""A run folder as one unit on disk: assembled beside its place, described by a manifest, swapped in by
renames, written by one process at a time, and read back as one consistent snapshot.

Writing (``commit_run_folder``): the files go to a hidden sibling ``.<name>.tmp-<pid>-<random>``, then
``manifest.json`` lists every file with its size and SHA-256; the folder then takes the run's place by
``rename`` (an existing run is first renamed to ``.<name>.old-...`` and deleted after). A reader thus finds
the old run, the new one or, for the instant between two renames, none; never a mix. Writers hold an
exclusive ``flock`` on ``.<name>.lock`` beside the folder (``RunLock``) from before training until the run
is in place, so a second writer is refused at once instead of training for nothing; the kernel drops the
lock of a killed process, and whoever takes it next removes that process's leftovers (``clean_leftovers``).

Reading (``read_run_files``): every file is read through one open handle on the folder, so a swap during
the read cannot mix two runs, and checked against the manifest. Folders written before manifests existed
have none and are read as before.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import Callable

from .errors import CheckpointError

MANIFEST = "manifest.json"
MANIFEST_KIND = "kgcore-run"
MANIFEST_FORMAT = 1
# Files of a training in progress (``kgcore.training.checkpoint``): a folder holding them is kgcore's.
TRAINING_FILES = ("checkpoint.pt", "training.json")
RUN_MARKERS = ("config.json", MANIFEST)


# ---------------------------------------------------------------------------------------------- manifest
def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_manifest(folder: Path) -> dict:
    """List every plain file of ``folder`` (but the manifest) with its size and SHA-256 in ``manifest.json``."""
    from .io import write_json

    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name != MANIFEST and not path.name.startswith("."):
            data = path.read_bytes()
            files[path.name] = {"size": len(data), "sha256": sha256_of(data)}
    manifest = {"kind": MANIFEST_KIND, "format": MANIFEST_FORMAT, "files": files}
    write_json(folder / MANIFEST, manifest)
    return manifest


def _read_at(dir_fd: int, name: str) -> bytes | None:
    """The bytes of the plain file ``name`` in the folder open as ``dir_fd`` (None when absent)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        is_folder = stat.S_ISDIR(os.fstat(fd).st_mode)
        os.close(fd)
        raise CheckpointError(f"{name} in the run folder is {'a folder' if is_folder else 'not a regular file'}; "
                              "the run is damaged: retrain it.")
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def read_run_files(folder: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The bytes of ``names`` (those present) and of every file the manifest lists, read through one handle
    on ``folder`` and checked against its manifest when it has one."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError as exc:
        raise CheckpointError(f"Run folder {folder} does not exist; give a folder written by "
                              "`kgcore train --out`.") from exc
    except NotADirectoryError as exc:
        raise CheckpointError(f"Run folder {folder} is a file, not a run folder; give a folder written by "
                              "`kgcore train --out`.") from exc
    except OSError as exc:
        raise CheckpointError(f"Run folder {folder} cannot be read ({exc.strerror}).") from exc
    try:
        raw_manifest = _read_at(dir_fd, MANIFEST)
        wanted = set(names)
        expected: dict = {}
        if raw_manifest is not None:
            expected = parse_manifest(raw_manifest, folder)
            wanted |= set(expected)
        contents = {}
        for name in sorted(wanted):
            data = _read_at(dir_fd, name)
            if data is not None:
                contents[name] = data
    finally:
        os.close(dir_fd)
    for name, entry in expected.items():
        if name not in contents:
            raise CheckpointError(f"{folder / name} is missing; the run folder is incomplete "
                                  "(its manifest lists it): retrain the run.")
        if len(contents[name]) != entry["size"] or sha256_of(contents[name]) != entry["sha256"]:
            raise CheckpointError(f"{folder / name} does not match the run's manifest (changed or damaged since "
                                  "the run was written); retrain the run or restore the file.")
    return contents


def parse_manifest(raw: bytes, folder: Path) -> dict[str, dict]:
    """The ``files`` of a run manifest, each with an int ``size`` and a str ``sha256``."""
    try:
        manifest = json.loads(raw.decode("utf-8"))
        files = manifest["files"]
        if manifest.get("kind") != MANIFEST_KIND or not isinstance(files, dict):
            raise ValueError("not a kgcore run manifest")
        for name, entry in files.items():
            if "/" in name or name.startswith(".") or not isinstance(entry["size"], int) \
                    or not isinstance(entry["sha256"], str):
                raise ValueError(f"bad entry {name!r}")
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{folder / MANIFEST} is damaged ({exc}); retrain the run.") from exc
    return files


def manifest_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete run by its manifest (None when it is, or has no manifest)."""
    try:
        read_run_files(folder, ())
    except CheckpointError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------------------------- what a folder holds
def folder_kind(path: Path) -> str:
    """``absent``, ``file``, ``empty``, ``run`` (kgcore's, complete or not), ``training`` (an unfinished
    training, no run yet) or ``other`` (files kgcore did not write)."""
    if not path.exists():
        return "absent"
    if not path.is_dir():
        return "file"
    names = {p.name for p in path.iterdir() if not p.name.startswith(".")}
    if not names:
        return "empty"
    if names & set(RUN_MARKERS) or "model.pt" in names:
        return "run"
    if names & set(TRAINING_FILES):
        return "training"
    return "other"


def foreign_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if not p.name.startswith("."))


def check_writable(path: Path) -> None:
    """Create ``path``'s parent folders if needed and prove a file can be written there, so a run that
    cannot be saved is refused before training rather than after."""
    parent = path.parent
    ancestor = parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise CheckpointError(f"{ancestor} is a file, so {path} cannot be created under it; choose another "
                              "output folder.")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".{path.name}.probe-{os.getpid()}-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CheckpointError(f"Cannot write in {parent} ({exc.strerror or exc}); choose an output folder you "
                              "can write to.") from exc


# ---------------------------------------------------------------------------------------------- one writer at a time
class RunLock:
    """An exclusive lock on the run folder ``path`` (``flock`` on ``.<name>.lock`` beside it), held by one
    writer; the kernel releases it when its process dies. ``acquire`` refuses at once when another process
    or thread holds it."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).absolute()
        self.file = self.path.parent / f".{self.path.name}.lock"
        self.fd: int | None = None

    @property
    def held(self) -> bool:
        return self.fd is not None

    def acquire(self) -> "RunLock":
        check_writable(self.path)
        while True:
            fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    raise CheckpointError(f"{self.path} is being written by another kgcore training right now; "
                                          "wait for it to finish or choose another output folder.") from exc
                raise
            # The lock file may have been removed by its previous holder between our open and flock.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.file))
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                return self
            os.close(fd)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.file)
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def clean_leftovers(path: Path) -> None:
    """Remove what killed writers of ``path`` left (assembly and replaced folders, half-written temporary
    files); call it holding the lock. A run renamed away by an ``--overwrite`` killed before its new run
    was renamed in is put back first, so the folder holds the old run rather than nothing."""
    parent = path.parent
    if not parent.is_dir():
        return
    kinds = tuple(f".{path.name}.{kind}-" for kind in ("tmp", "old", "probe"))
    leftovers = [p for p in parent.iterdir() if p.name.startswith(kinds)]
    olds = sorted((p for p in leftovers if p.name.startswith(kinds[1])), key=lambda p: p.stat().st_mtime)
    if not path.exists() and olds:
        os.rename(olds[-1], path)
    for leftover in leftovers:
        if leftover.exists():
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    if path.is_dir():
        for stale in path.glob(".*.tmp"):
            stale.unlink(missing_ok=True)


def commit_run_folder(path: Path, assemble: Callable[[Path], None]) -> Path:
    """Assemble a run beside ``path`` (``assemble(folder)`` writes its files), add its manifest and swap it
    in; whatever was at ``path`` (checked by the caller, who holds ``RunLock``) is replaced as a whole."""
    path = Path(path)
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    staging = path.parent / f".{path.name}.tmp-{tag}"
    staging.mkdir(parents=True)
    try:
        assemble(staging)
        write_manifest(staging)
        _fsync_folder(staging)
        if path.exists():
            old = path.parent / f".{path.name}.old-{tag}"
            os.rename(path, old)
            os.rename(staging, path)
            _fsync_folder(path.parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, path)
            _fsync_folder(path.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
