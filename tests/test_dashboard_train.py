"""The dashboard's Train page under Streamlit's AppTest: an upload trained in the page, stopping a training
that keeps its partial run, Bose & Hamilton with the library's default weight, and a whitelist that kgcore
resolves."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from kgcore.data.datasets import DataSource

from .apptest_support import APP, TIMEOUT, clean, goto
from .synthetic import GENDER, PROFESSION, people_triples


def start_small_run(at: AppTest, name: str, epochs: int, folder: Path, wait: float = 180) -> Path:
    """Submit the Train form for a small run (d 16, no validation) named ``name`` and wait until its
    config.json exists in ``folder``."""
    at.slider(key="train_epochs").set_value(epochs)
    at.select_slider(key="train_dim").set_value(16)
    at.slider(key="train_valid").set_value(0)
    at.text_input(key="train_name").set_value(name)
    at.get("form_submit_button")[0].click()
    at.run()
    clean(at)
    deadline = time.monotonic() + wait
    while not (folder / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    return folder


def test_upload_then_train_in_the_browser_flow(runs_dir):
    triples = people_triples(150, seed=5)
    payload = "".join(f"{h}\t{r}\t{t}\n" for h, r, t in triples).encode()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at = goto(at, "train")
    at.get("file_uploader")[0].set_value(("people.tsv", payload, "text/tab-separated-values"))
    at.run()
    clean(at)
    assert any(f"people.tsv: {len(triples):,} triples" in s.value for s in at.success)
    assert at.selectbox(key="upload_target").value == PROFESSION  # guessed from its name
    at.text_input(key="upload_label").set_value("People")
    at.get("form_submit_button")[-1].click()
    at.run()
    clean(at)
    folder = runs_dir / "datasets" / "People"
    assert json.loads((folder / "dataset.json").read_text())["label"] == "People"
    assert at.sidebar.selectbox(key="dataset").value == "dir:" + str(folder.resolve())
    assert "No trained models" in " ".join(c.value for c in at.sidebar.caption)

    # A results page on a graph with no runs says what to do instead of failing.
    at = goto(at, "professions")
    clean(at)
    assert any("Train" in i.value for i in at.info)

    at = goto(at, "train")
    at.slider(key="train_epochs").set_value(3)
    at.select_slider(key="train_dim").set_value(16)
    at.slider(key="train_valid").set_value(1)
    at.get("form_submit_button")[0].click()
    at.run()
    clean(at)
    deadline = time.monotonic() + 120
    while not list((runs_dir / "People").glob("*/config.json")) and time.monotonic() < deadline:
        time.sleep(0.5)
    runs = list((runs_dir / "People").glob("*/config.json"))
    assert len(runs) == 1, "the training job saved its run"
    history = pd.read_csv(runs[0].parent / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3] and history["valid_mrr"].notna().all()
    time.sleep(0.5)
    at.run()
    clean(at)
    assert str(runs[0].parent.resolve()) in at.sidebar.multiselect(key=f"runs::dir:{folder.resolve()}").value
    assert any("Saved transe-16d-3ep" in s.value for s in at.success)


def test_stop_keeps_a_partial_run(runs_dir, toy_world):
    shutil.copytree(toy_world["runs"] / "datasets", runs_dir / "datasets")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.sidebar.selectbox(key="dataset").set_value(toy_world["key"]).run()
    at = goto(at, "train")
    at.slider(key="train_epochs").set_value(200)
    at.slider(key="train_valid").set_value(0)
    at.text_input(key="train_name").set_value("stopped early")
    at.multiselect(key="train_withhold").set_value([GENDER])  # an attribute-blind reference run
    at.get("form_submit_button")[0].click()
    at.run()
    clean(at)
    assert at.get("form_submit_button")[0].disabled, "no second job while one runs"
    stop = [b for b in at.button if b.label == "Stop and keep"]
    assert len(stop) == 1
    stop[0].click().run()
    folder = runs_dir / "Toy-graph" / "stopped-early"
    deadline = time.monotonic() + 120
    while not (folder / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["cancelled"] is True and 1 <= metrics["epochs_trained"] < 200
    assert len(pd.read_csv(folder / "history.csv")) == metrics["epochs_trained"]
    assert json.loads((folder / "config.json").read_text())["train"]["withheld_relations"] == [GENDER]
    at.run()
    assert any("stopped early by you" in s.value for s in at.success)


def test_train_page_trains_bose_with_the_librarys_default_weight(runs_dir, toy_world):
    """The Train page's controls come from the model registry and the chosen setting: in the papers' setting
    it offers the preset's adversary weight and discriminator steps for Bose & Hamilton's model and TransE
    with dot product, and trains the model with what was chosen; the classic setting offers kgcore's own
    defaults."""
    from kgcore.models.bose_options import BoseOptions
    from kgcore.training.presets import FISHER2020

    shutil.copytree(toy_world["runs"] / "datasets", runs_dir / "datasets")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.sidebar.selectbox(key="dataset").set_value(toy_world["key"]).run()
    at = goto(at, "train")
    assert at.radio(key="train_setting").value == "fisher2020"
    assert at.select_slider(key="train_bose_gamma_fisher2020").value == FISHER2020.options["bose"]["gamma"]
    assert at.slider(key="train_bose_d_steps_fisher2020").value == FISHER2020.options["bose"]["d_steps"]
    assert at.selectbox(key="train_interaction_fisher2020").value == "transe-dot"
    at.radio(key="train_setting").set_value("classic").run()
    assert at.select_slider(key="train_bose_gamma_classic").value == BoseOptions().gamma
    assert at.selectbox(key="train_interaction_classic").value == "transe-l1"
    at.radio(key="train_setting").set_value("fisher2020").run()
    at.radio(key="train_model").set_value("bose")
    at.slider(key="train_bose_d_steps_fisher2020").set_value(2)
    at.selectbox(key="train_interaction_fisher2020").set_value("distmult")
    folder = start_small_run(at, "bose default", epochs=2, folder=runs_dir / "Toy-graph" / "bose-default")
    model = json.loads((folder / "config.json").read_text())["model"]
    assert model["model"] == "bose" and model["debias"] == ["gender"]
    assert model["options"]["gamma"] == FISHER2020.options["bose"]["gamma"] and model["options"]["d_steps"] == 2
    assert model["interaction"] == "distmult"
    train_settings = json.loads((folder / "config.json").read_text())["train"]
    assert (train_settings["loss"], train_settings["optimizer"], train_settings["num_negatives"],
            train_settings["batch_negatives"]) == ("softmax", "adagrad", 1000, FISHER2020.train["batch_negatives"])
    assert json.loads((folder / "metrics.json").read_text())["test"]["without_sensitive"]
    history = pd.read_csv(folder / "history.csv")
    assert len(history) == 2 and {"adversary", "disc_loss_gender"} <= set(history.columns)


def test_train_page_whitelist_is_resolved_by_kgcore(runs_dir):
    """The KL model's whitelist rows go through kgcore.data.whitelist.resolve_whitelist; the run records the
    resolved entity names. A debiased model without an attribute to remove is a message, not a traceback."""
    from kgcore.data.whitelist import resolve_whitelist
    from kgcore.demo import DEFAULT_WHITELIST

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at = goto(at, "train")
    at.radio(key="train_model").set_value("kl")
    at.multiselect(key="train_debias").set_value([])
    at.get("form_submit_button")[0].click()
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Choose at least one attribute to remove for a debiased model."]

    at.multiselect(key="train_debias").set_value(["gender"])
    folder = start_small_run(at, "kl whitelist", epochs=1, folder=runs_dir / "Demo-world-synthetic" / "kl-whitelist")
    graph = DataSource(dataset="demo").load()
    expected = [[graph.relations[r], "*" if t < 0 else graph.entities[t], a]
                for r, t, a in resolve_whitelist([list(pair) for pair in DEFAULT_WHITELIST], graph)]
    model = json.loads((folder / "config.json").read_text())["model"]
    assert model["model"] == "kl" and model["options"]["whitelist"] == expected
