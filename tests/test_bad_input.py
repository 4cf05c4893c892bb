"""Bad input ends in one clear error (file, line, what to do), through the library and the command line,
and never destroys what was written before."""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from kgcore.cli import main
from kgcore.data.datasets import DataSource
from kgcore.errors import CheckpointError, DataError, SpecError
from kgcore.data.graph import KnowledgeGraph, load_labels
from kgcore.runs import load_run, save_run
from kgcore.data.spec import Attribute, DatasetSpec
from kgcore.data.triples import read_triples
from kgcore.data.whitelist import read_whitelist

from .factories import trained_run
from .synthetic import SPEC, people_triples, split_triples, write_graph

GOOD = "a\tr\tb\nb\tr\tc\nc\ts\ta\n"
SPEC_ARGS = ["--attribute", "gender=has_gender", "--target", "has_profession"]


def cli_error(capsys, argv: list[str]) -> str:
    """Run the CLI; assert exit code 2 and a single ``error:`` line on stderr with no traceback."""
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (code, captured.err)
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def folder(tmp_path: Path, name: str = "kg", train: str | bytes = GOOD, valid: str | bytes | None = "a\tr\tc\n",
           test: str | bytes | None = "b\ts\tc\n") -> Path:
    path = tmp_path / name
    path.mkdir()
    for split, content in (("train", train), ("valid", valid), ("test", test)):
        if content is not None:
            data = content.encode() if isinstance(content, str) else content
            (path / f"{split}.txt").write_bytes(data)
    return path


# ---------------------------------------------------------------- triples files
def test_wrong_column_count_names_file_and_line(tmp_path, capsys):
    data = folder(tmp_path, train=GOOD + "\n# a comment\nd\tr\te\tf\n")
    with pytest.raises(DataError) as info:
        read_triples(data / "train.txt")
    message = str(info.value)
    assert "train.txt, line 6" in message and "expected 3 tab-separated fields" in message and "found 4" in message
    line = cli_error(capsys, ["relations", "--data-dir", str(data)])
    assert "train.txt, line 6" in line


def test_space_separated_line_gets_a_hint(tmp_path):
    with pytest.raises(DataError, match=r"line 2: .*space-separated; use tabs"):
        read_triples(folder(tmp_path, train="a\tr\tb\nb r c\n") / "train.txt")


def test_empty_field_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"line 1: empty head, relation or tail"):
        read_triples(folder(tmp_path, train="a\t\tb\n") / "train.txt")


@pytest.mark.parametrize("content", ["", "\n\n  \n", "# only a comment\n"])
def test_empty_file(tmp_path, capsys, content):
    data = folder(tmp_path, train=content)
    with pytest.raises(DataError, match="contains no triples"):
        KnowledgeGraph.from_folder(data)
    assert "train.txt: contains no triples" in cli_error(capsys, ["relations", "--data-dir", str(data)])


def test_empty_valid_file_is_named(tmp_path, capsys):
    data = folder(tmp_path, valid="")
    assert "valid.txt: contains no triples" in cli_error(capsys, ["relations", "--data-dir", str(data)])


def test_non_utf8_bytes_name_the_line(tmp_path, capsys):
    data = folder(tmp_path, train=GOOD.encode() + "d\tr\tcaf\u00e9\n".encode("latin-1"))
    with pytest.raises(DataError) as info:
        read_triples(data / "train.txt")
    assert "train.txt, line 4" in str(info.value) and "UTF-8" in str(info.value)
    assert "line 4" in cli_error(capsys, ["relations", "--data-dir", str(data)])


def test_gzip_files_are_read(tmp_path, capsys):
    data = folder(tmp_path, train=None)
    (data / "train.txt.gz").write_bytes(gzip.compress(GOOD.encode()))
    graph = KnowledgeGraph.from_folder(data)
    assert graph.summary()["train_triples"] == 3
    assert main(["relations", "--data-dir", str(data)]) == 0
    assert "r" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["truncated", "corrupted", "not-gzip"])
def test_broken_gzip_is_a_clear_error(tmp_path, capsys, damage):
    data = folder(tmp_path, train=None)
    packed = gzip.compress((GOOD * 200).encode())
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    elif damage == "corrupted":
        packed = packed[:20] + bytes(b ^ 0xFF for b in packed[20:60]) + packed[60:]
    else:
        packed = GOOD.encode()
    (data / "train.txt.gz").write_bytes(packed)
    with pytest.raises(DataError, match=r"train\.txt\.gz: cannot be read"):
        read_triples(data / "train.txt.gz")
    assert "train.txt.gz" in cli_error(capsys, ["relations", "--data-dir", str(data)])


# ---------------------------------------------------------------- folders and specs
def test_missing_data_folder(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="does not exist"):
        KnowledgeGraph.from_folder(missing)
    assert str(missing) in cli_error(capsys, ["relations", "--data-dir", str(missing)])


def test_data_dir_that_is_a_file(tmp_path, capsys):
    data = folder(tmp_path)
    line = cli_error(capsys, ["relations", "--data-dir", str(data / "train.txt")])
    assert "is a file; give the folder" in line


def test_missing_train_file(tmp_path, capsys):
    data = folder(tmp_path, train=None)
    with pytest.raises(DataError, match="no train.txt"):
        KnowledgeGraph.from_folder(data)
    assert "no train.txt" in cli_error(capsys, ["relations", "--data-dir", str(data)])


def test_unknown_relation_in_spec_is_named(tmp_path, capsys):
    data = folder(tmp_path)
    spec = DatasetSpec("mine", attributes=(Attribute("gender", "P21"),), target="r")
    with pytest.raises(SpecError, match="'P21'"):
        KnowledgeGraph.from_folder(data, spec=spec)
    with pytest.raises(SpecError, match="target relation 'P106'"):
        KnowledgeGraph.from_folder(data, spec=DatasetSpec("mine", target="P106"))
    line = cli_error(capsys, ["relations", "--data-dir", str(data), "--attribute", "gender=P21"])
    assert "'P21'" in line and "kgcore relations" in line
    assert "NAME=RELATION" in cli_error(capsys, ["relations", "--data-dir", str(data), "--attribute", "P21"])


def test_unseen_entities_error_by_default_and_drop_or_keep(tmp_path, capsys):
    data = folder(tmp_path, valid="a\tr\tc\n\na\tr\tstranger\n")
    with pytest.raises(DataError) as info:
        KnowledgeGraph.from_folder(data)
    message = str(info.value)
    assert "valid.txt" in message and "line 3: stranger" in message and "--unseen drop" in message
    line = cli_error(capsys, ["relations", "--data-dir", str(data)])
    assert "stranger" in line

    dropped = KnowledgeGraph.from_folder(data, unseen="drop")
    assert dropped.splits["valid"].shape[0] == 1 and dropped.dropped == {"valid": 1}
    assert "stranger" not in dropped.entity_to_id
    kept = KnowledgeGraph.from_folder(data, unseen="keep")
    assert kept.splits["valid"].shape[0] == 2 and "stranger" in kept.entity_to_id
    for policy in ("drop", "keep"):
        assert main(["relations", "--data-dir", str(data), "--unseen", policy]) == 0


def test_bad_labels_file(tmp_path, capsys):
    data = folder(tmp_path)
    broken = tmp_path / "labels.json"
    broken.write_text('{"a": "A",', encoding="utf-8")
    with pytest.raises(DataError, match="invalid JSON"):
        load_labels(broken)
    tsv = tmp_path / "labels.tsv"
    tsv.write_text("a\tA\nb B\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"labels.tsv, line 2: expected id<TAB>label"):
        load_labels(tsv)
    with pytest.raises(DataError, match="is a folder"):
        load_labels(tmp_path)
    assert "invalid JSON" in cli_error(capsys, ["relations", "--data-dir", str(data), "--labels", str(broken)])
    assert "not found" in cli_error(capsys, ["relations", "--data-dir", str(data), "--labels", str(tmp_path / "x.tsv")])


# ---------------------------------------------------------------- runs and checkpoints
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A real (tiny) run on its own copy of a generated graph: (data, run)."""
    root = tmp_path_factory.mktemp("bad_runs")
    data = write_graph(root / "toy", split_triples(people_triples(200, seed=1), seed=1))
    run = trained_run(root / "run", DataSource(data_dir=str(data), spec=SPEC), evaluate_test=True,
                      dim=8, epochs=1, batch_size=256, lr=0.01)
    return data, run


def _copy_run(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "text", "flipped"])
def test_corrupted_model_file(trained, tmp_path, capsys, damage):
    run = _copy_run(trained[1], tmp_path)
    weights = (run / "model.pt").read_bytes()
    broken = {"truncated": weights[: len(weights) // 2], "garbage": bytes(range(256)) * 8, "empty": b"",
              "text": b"hello, not a checkpoint\n",
              "flipped": weights[:64] + bytes(b ^ 0x5A for b in weights[64:256]) + weights[256:]}[damage]
    (run / "model.pt").write_bytes(broken)
    with pytest.raises(CheckpointError, match="model.pt"):
        load_run(run)
    assert "model.pt" in cli_error(capsys, ["evaluate", str(run)])


def test_missing_model_file(trained, tmp_path, capsys):
    run = _copy_run(trained[1], tmp_path)
    (run / "model.pt").unlink()
    assert "model.pt is missing" in cli_error(capsys, ["evaluate", str(run)])


@pytest.mark.parametrize("content", ['{"model": {"model": "transe"', "[1, 2]", '{"model": {}}', b"\xff\xfe{}"])
def test_corrupted_config(trained, tmp_path, capsys, content):
    run = _copy_run(trained[1], tmp_path)
    (run / "config.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(CheckpointError, match="config.json"):
        load_run(run)
    assert "config.json" in cli_error(capsys, ["evaluate", str(run)])


def test_config_with_broken_graph_entry(trained, tmp_path, capsys):
    run = _copy_run(trained[1], tmp_path)
    config = json.loads((run / "config.json").read_text())
    del config["graph"]["num_entities"]
    (run / "config.json").write_text(json.dumps(config))
    assert "config.json does not match the run's manifest" in cli_error(capsys, ["evaluate", str(run)])
    (run / "manifest.json").unlink()  # a run written before manifests: config.json's own checks
    assert "num_entities" in cli_error(capsys, ["evaluate", str(run)])


def test_missing_run_folder(tmp_path, capsys):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_run(tmp_path / "no_run")
    assert "does not exist" in cli_error(capsys, ["evaluate", str(tmp_path / "no_run")])
    (tmp_path / "file").write_text("x")
    assert "is a file" in cli_error(capsys, ["evaluate", str(tmp_path / "file")])


def test_checkpoint_loaded_with_another_graph(trained, tmp_path, capsys):
    data, run = trained
    other = write_graph(tmp_path / "other", split_triples(people_triples(150, seed=5), seed=5))
    other_graph = KnowledgeGraph.from_folder(other, spec=SPEC)
    with pytest.raises(CheckpointError, match="Load it with the data it was trained on"):
        load_run(run, graph=other_graph)
    # Same size, other ids: the vocabulary fingerprint catches it too.
    same = KnowledgeGraph.from_folder(data, spec=SPEC)
    renamed = same.entities[:]
    renamed[0], renamed[1] = renamed[1], renamed[0]
    with pytest.raises(CheckpointError, match="other ids"):
        load_run(run, graph=KnowledgeGraph({"train": [(renamed[0], same.relations[0], renamed[1])]},
                                           entity_names=renamed, relation_names=same.relations))
    # Through the CLI: the run's data folder now points at another graph (a hand-edited config.json, so
    # without the manifest that would refuse the edit).
    copy = _copy_run(run, tmp_path)
    (copy / "manifest.json").unlink()
    config = json.loads((copy / "config.json").read_text())
    config["data"]["data_dir"] = str(other)
    (copy / "config.json").write_text(json.dumps(config))
    assert "trained on a graph with" in cli_error(capsys, ["evaluate", str(copy)])
    # The data a run was trained on has gone.
    config["data"]["data_dir"] = str(tmp_path / "gone")
    (copy / "config.json").write_text(json.dumps(config))
    assert "does not exist" in cli_error(capsys, ["evaluate", str(copy)])


def test_existing_run_is_not_overwritten(trained, tmp_path, capsys):
    data, run = trained
    copy = _copy_run(run, tmp_path)
    before = _files(copy)
    args = ["train", "--data-dir", str(data), *SPEC_ARGS, "--epochs", "1", "--dim", "4", "--seed", "1",
            "--out", str(copy), "--quiet"]
    assert "--overwrite" in cli_error(capsys, args)
    assert _files(copy) == before
    # A run whose model.pt was lost still counts as a run (its config.json stays).
    (copy / "model.pt").unlink()
    before = _files(copy)
    assert "--overwrite" in cli_error(capsys, args)
    assert _files(copy) == before
    # Through the library as well.
    loaded = load_run(run)
    from kgcore.training.loop import TrainConfig

    with pytest.raises(CheckpointError, match="--overwrite"):
        save_run(copy, loaded.model, loaded.graph, loaded.data, TrainConfig())
    assert _files(copy) == before
    # With --overwrite the run is replaced.
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((copy / "config.json").read_text())["model"]["dim"] == 4


def test_out_is_a_file(trained, tmp_path, capsys):
    data, _ = trained
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    line = cli_error(capsys, ["train", "--data-dir", str(data), *SPEC_ARGS, "--epochs", "1", "--dim", "4",
                              "--out", str(target), "--quiet"])
    assert "is a file" in line and target.read_text() == "keep me"


def test_unknown_relation_for_evaluate(trained, capsys):
    assert "'nope'" in cli_error(capsys, ["evaluate", str(trained[1]), "--relation", "nope"])


# ---------------------------------------------------------------- whitelists
def test_bad_whitelist_file(trained, tmp_path, capsys):
    data, _ = trained
    bad = tmp_path / "whitelist.tsv"
    bad.write_text("has_profession\tnurse\n# fine\nhas_profession\tnurse\textra\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"whitelist.tsv, line 3: expected RELATION<TAB>TAIL"):
        read_whitelist(bad)
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"has_profession\t\xff\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_whitelist(binary)
    base = ["train", "--data-dir", str(data), *SPEC_ARGS, "--model", "kl", "--debias", "gender",
            "--epochs", "1", "--dim", "4", "--quiet"]
    out = tmp_path / "run"
    assert "line 3" in cli_error(capsys, [*base, "--whitelist", str(bad), "--out", str(out)])
    assert "not found" in cli_error(capsys, [*base, "--whitelist", str(tmp_path / "none.tsv"), "--out", str(out)])
    assert not out.exists(), "a failed command must not leave a run folder behind"
