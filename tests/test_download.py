"""The FB15k-237 download through real HTTP: a local server on 127.0.0.1 serves copies of the shared data."""
from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import socket
import threading
from pathlib import Path

import pytest

from kgcore.cli import main
from kgcore.data.datasets import DataSource
from kgcore.data.download import SHA256, download_fb15k237
from kgcore.errors import DataError

FILES = ("train.txt", "valid.txt", "test.txt", "entity2wikidata.json", "FB15k_mid2name.txt")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def serve():
    """Start an HTTP server on 127.0.0.1 (random port) serving a folder; returns its base URL."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/fb15k-237/"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def mirror(tmp_path, fb15k_dir) -> Path:
    """A copy of the shared FB15k-237 files, made at test time, laid out as a mirror serves them."""
    root = tmp_path / "mirror"
    (root / "fb15k-237").mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(fb15k_dir / name, root / "fb15k-237" / name)
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/fb15k-237/"  # nothing listens there once the socket is closed


def test_download_verifies_and_loads(tmp_path, mirror, serve, fb15k_dir):
    url = serve(mirror)
    dest = tmp_path / "data" / "fb15k-237"
    assert download_fb15k237(dest, urls=url, progress=False) == dest
    for name in FILES:
        assert (dest / name).read_bytes() == (fb15k_dir / name).read_bytes(), name
    for name, expected in SHA256.items():
        assert _sha(dest / name) == expected
    assert not [p for p in dest.iterdir() if p.name.startswith(".")], "temporary files left behind"
    graph = DataSource(dataset="fb15k237", data_dir=str(dest)).load()
    assert graph.summary()["train_triples"] == 272115
    assert graph.label("/m/05zppz") == "male"
    # Labels came along: entity2wikidata.json gives a readable name to (almost) every entity.
    assert sum(graph.label(e) != e for e in graph.entities[:200]) > 150


def test_download_from_environment_variable_and_cli(tmp_path, mirror, serve, monkeypatch, capsys):
    monkeypatch.setenv("KGCORE_FB15K237_URL", serve(mirror).rstrip("/"))  # a base without the slash works
    dest = tmp_path / "dl"
    assert main(["download", "fb15k237", "--dest", str(dest), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert str(dest.resolve()) in out and "train.txt" in out
    assert all(_sha(dest / n) == s for n, s in SHA256.items())


def test_corrupted_file_fails_checksum_and_leaves_nothing(tmp_path, mirror, serve):
    train = mirror / "fb15k-237" / "train.txt"
    data = bytearray(train.read_bytes())
    data[1000] ^= 0x01  # one flipped bit
    train.write_bytes(bytes(data))
    bad_sha = _sha(train)
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as info:
        download_fb15k237(dest, urls=serve(mirror), progress=False)
    message = str(info.value)
    assert "train.txt" in message and SHA256["train.txt"] in message and bad_sha in message
    assert not (dest / "train.txt").exists()
    assert list(dest.iterdir()) == [], "no temporary or partial file may stay behind"


def test_offline_error_says_where_to_put_files(tmp_path, capsys):
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as info:
        download_fb15k237(dest, urls=_closed_port_url(), progress=False, timeout=5)
    message = str(info.value)
    assert "offline" in message and "KGCORE_DATA_DIR" in message and str(dest) in message
    assert "fb15k-237" in message and "train.txt" in message
    assert list(dest.iterdir()) == []
    # The command line says the same in one line, without a traceback.
    code = main(["download", "fb15k237", "--dest", str(dest), "--url", _closed_port_url(), "--quiet",
                 "--timeout", "5"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "KGCORE_DATA_DIR" in err


def test_failed_redownload_keeps_good_copy(tmp_path, mirror, serve):
    url = serve(mirror)
    dest = tmp_path / "dest"
    download_fb15k237(dest, urls=url, progress=False)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}

    # The mirror now serves a corrupted valid.txt; forcing a re-download must not touch the good files.
    valid = mirror / "fb15k-237" / "valid.txt"
    valid.write_bytes(valid.read_bytes()[:-10])
    with pytest.raises(DataError, match="valid.txt"):
        download_fb15k237(dest, urls=url, progress=False, force=True)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before

    # And again with the server gone.
    with pytest.raises(DataError, match="offline"):
        download_fb15k237(dest, urls=_closed_port_url(), progress=False, force=True, timeout=5)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before


def test_verified_files_are_not_fetched_again_and_bad_local_copy_is_replaced(tmp_path, mirror, serve):
    dest = tmp_path / "dest"
    download_fb15k237(dest, urls=serve(mirror), progress=False)
    # Verified files stay: a re-run against an unreachable server succeeds without the network.
    assert download_fb15k237(dest, urls=_closed_port_url(), progress=False, timeout=5) == dest
    # A local copy damaged since is fetched again and fixed.
    (dest / "test.txt").write_bytes(b"/m/x\t/r\t/m/y\n")
    download_fb15k237(dest, urls=serve(mirror), progress=False)
    assert _sha(dest / "test.txt") == SHA256["test.txt"]


def test_missing_label_files_are_skipped(tmp_path, mirror, serve, capsys):
    (mirror / "fb15k-237" / "FB15k_mid2name.txt").unlink()
    (mirror / "fb15k-237" / "entity2wikidata.json").write_text("{not json", encoding="utf-8")
    dest = tmp_path / "dest"
    download_fb15k237(dest, urls=serve(mirror), progress=False)
    assert sorted(p.name for p in dest.iterdir()) == ["test.txt", "train.txt", "valid.txt"]
    err = capsys.readouterr().err
    assert "FB15k_mid2name.txt" in err and "404" in err
    assert "entity2wikidata.json" in err and "invalid JSON" in err


def test_dataset_download_flag_uses_cache(tmp_path, mirror, serve, monkeypatch):
    monkeypatch.setenv("KGCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("KGCORE_DATA_DIR", raising=False)
    monkeypatch.setenv("KGCORE_FB15K237_URL", serve(mirror))
    with pytest.raises(DataError, match="not found"):
        DataSource(dataset="fb15k237").load()
    graph = DataSource(dataset="fb15k237", download=True).load()
    assert graph.num_relations == 237
    assert _sha(tmp_path / "cache" / "fb15k-237" / "train.txt") == SHA256["train.txt"]
