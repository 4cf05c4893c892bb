"""Download the public FB15k-237 release with a progress bar, checksums and atomic writes.

The three split files are verified against the SHA-256 sums of the original release before any of them
is moved into place, so a broken or tampered download never replaces a good copy, and a folder holds
either the old files or the complete new set. The label files are best-effort extras: a missing or
malformed one is skipped with a note, and labels fall back to entity ids.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from ..errors import DataError
from .locations import DATA_DIR_ENV, cache_dir

URL_ENV = "KGCORE_FB15K237_URL"
# A public mirror serving the release files one by one (the same bytes as the original release).
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/villmow/datasets_knowledge_embedding/master/FB15k-237/"

# SHA-256 of the original release's splits (also listed in the shared data README).
SHA256 = {
    "train.txt": "61099230e4439f90885ca9767739e31e8e32f54736fa1c35952b27997bc7c08a",
    "valid.txt": "749cbe9d923bac7b9354da5614ecfed2e0220256d442c3e04a6b303db1f273d9",
    "test.txt": "e2e35e8e6113de220140b6f44dc71a5207b0fc6872d575e874aefe13259b655b",
}
REQUIRED_FILES = tuple(SHA256)
# Labels: entity2wikidata.json (preferred) and FB15k_mid2name.txt (fallback); not every mirror has both.
EXTRA_FILES = ("entity2wikidata.json", "FB15k_mid2name.txt")

CHUNK = 1 << 16
USER_AGENT = "kgcore (FB15k-237 download)"

_UMASK = os.umask(0)
os.umask(_UMASK)


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_urls(urls: str | Mapping[str, str] | None = None) -> dict[str, str]:
    """File name -> URL: from a mapping, a base URL, ``$KGCORE_FB15K237_URL``, or the default mirror."""
    if isinstance(urls, Mapping):
        return dict(urls)
    base = urls or os.environ.get(URL_ENV) or DEFAULT_BASE_URL
    base = base if base.endswith("/") else base + "/"
    return {name: base + name for name in REQUIRED_FILES + EXTRA_FILES}


def manual_install_hint(dest: str | os.PathLike | None = None) -> str:
    """Where ``--dataset fb15k237`` looks, so a user can put the files there by hand."""
    places = [str(dest)] if dest else []
    places += [f"${DATA_DIR_ENV}/fb15k-237", str(cache_dir() / "fb15k-237")]
    unique = list(dict.fromkeys(places))
    return (f"Download train.txt, valid.txt and test.txt of FB15k-237 (optionally entity2wikidata.json and "
            f"FB15k_mid2name.txt for labels) by other means and put them in {' or '.join(unique)}, "
            "or pass the folder with --data-dir DIR; "
            f"set ${URL_ENV} (or --url) to download from another mirror.")


def download_fb15k237(dest: str | os.PathLike, urls: str | Mapping[str, str] | None = None,
                      progress: bool = True, force: bool = False, timeout: float = 60.0) -> Path:
    """Download FB15k-237 into ``dest`` and return it.

    ``urls`` is a base URL under which the files sit, or a mapping of file name to URL (default:
    ``$KGCORE_FB15K237_URL``, else a public mirror). Split files already present with the right checksum
    are kept unless ``force``. Raises ``DataError`` on a checksum mismatch (naming the file, the expected
    and the received sum) or when the server cannot be reached (saying where to put the files by hand).
    """
    dest = Path(dest)
    sources = resolve_urls(urls)
    missing = [name for name in REQUIRED_FILES if name not in sources]
    if missing:
        raise DataError(f"No URL given for {', '.join(missing)}; give a base URL or a URL for each split file.")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"Cannot create the download folder {dest} ({exc}); choose another with --dest.") from exc

    staged: dict[str, Path] = {}
    try:
        for name in REQUIRED_FILES:
            if not force and (dest / name).is_file() and sha256_file(dest / name) == SHA256[name]:
                continue
            staged[name] = _fetch(sources[name], dest, name, progress, timeout, required=True)
            got = sha256_file(staged[name])
            if got != SHA256[name]:
                raise DataError(
                    f"{name} from {sources[name]} failed its checksum: expected sha256 {SHA256[name]}, got {got}. "
                    "The download is corrupted or the mirror serves other data; nothing was replaced. "
                    + manual_install_hint(dest))
        # Every split verified: only now replace, so the folder never mixes a new split with a broken one.
        for name, tmp in staged.items():
            os.replace(tmp, dest / name)
        staged.clear()
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)

    for name in EXTRA_FILES:
        if name not in sources or (not force and (dest / name).is_file()):
            continue
        try:
            tmp = _fetch(sources[name], dest, name, progress, timeout, required=False)
        except DataError as exc:
            _note(f"note: skipped {name} ({exc}); labels fall back to the other label file or entity ids.")
            continue
        problem = _check_labels_file(tmp, name)
        if problem:
            tmp.unlink(missing_ok=True)
            _note(f"note: skipped {name} from {sources[name]}: {problem}.")
            continue
        os.replace(tmp, dest / name)
    return dest


def _fetch(url: str, folder: Path, name: str, progress: bool, timeout: float, required: bool) -> Path:
    """Stream ``url`` into a temporary file in ``folder``; the caller verifies and renames it."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            bar = _progress_bar(name, int(total) if total and total.isdigit() else None, progress)
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
            finally:
                bar.close()
            out.flush()
            os.fsync(out.fileno())
        return tmp
    except urllib.error.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        message = f"cannot download {url}: HTTP {exc.code} {exc.reason}"
        raise DataError(message + (". " + manual_install_hint(folder) if required else "")) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        message = f"cannot download {url} ({reason}); are you offline?"
        raise DataError(message + (" " + manual_install_hint(folder) if required else "")) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _check_labels_file(path: Path, name: str) -> str | None:
    """Why a downloaded label file would break loading (None when it is fine)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return f"invalid JSON ({exc.msg} at line {exc.lineno})"
        return None if isinstance(data, dict) else "not a JSON object"
    bad = next((i for i, line in enumerate(text.splitlines(), 1) if line.strip() and "\t" not in line), None)
    return f"line {bad} is not id<TAB>name" if bad else None


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(name: str, total: int | None, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, leave=False,
                file=sys.stderr)


def _note(message: str) -> None:
    print(message, file=sys.stderr)
