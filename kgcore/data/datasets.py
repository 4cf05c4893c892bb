"""Where a graph comes from: a built-in dataset by name, or any folder of triples with a spec.

A ``DataSource`` is saved in every run's config, so ``evaluate`` and ``bias`` can reload exactly the
graph a model was trained on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import DataError, KGError
from .graph import KnowledgeGraph
from .locations import DATA_DIR_ENV, cache_dir, find_fb15k237
from .spec import BUILTIN_SPECS, DatasetSpec


# name -> function(source) -> KnowledgeGraph; the demo world registers itself here.
BUILTIN_DATASETS: dict[str, Callable[["DataSource"], KnowledgeGraph]] = {}


@dataclass
class DataSource:
    """A built-in dataset name, or a folder plus a spec (and optional labels file)."""

    dataset: str | None = None
    data_dir: str | None = None
    spec: DatasetSpec | None = None
    labels_file: str | None = None
    unseen: str = "error"
    download: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "data_dir": str(Path(self.data_dir).resolve()) if self.data_dir else None,
            "spec": self.spec.to_dict() if self.spec else None,
            "labels_file": str(Path(self.labels_file).resolve()) if self.labels_file else None,
            "unseen": self.unseen,
            "options": self.options,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DataSource":
        spec = DatasetSpec.from_dict(data["spec"]) if data.get("spec") else None
        return cls(dataset=data.get("dataset"), data_dir=data.get("data_dir"), spec=spec,
                   labels_file=data.get("labels_file"), unseen=data.get("unseen", "error"),
                   options=dict(data.get("options") or {}))

    def load(self) -> KnowledgeGraph:
        if self.dataset:
            if self.dataset not in BUILTIN_DATASETS:
                known = ", ".join(sorted(BUILTIN_DATASETS))
                raise KGError(f"Unknown dataset {self.dataset!r}; built-in datasets: {known}.")
            return BUILTIN_DATASETS[self.dataset](self)
        if not self.data_dir:
            raise KGError("Give a built-in dataset (--dataset NAME) or a folder of triples (--data-dir DIR).")
        return KnowledgeGraph.from_folder(self.data_dir, spec=self.spec, labels_file=self.labels_file,
                                          unseen=self.unseen)


def _load_fb15k237(source: DataSource) -> KnowledgeGraph:
    folder = find_fb15k237(source.data_dir)
    if folder is None and source.download:
        from .download import download_fb15k237

        folder = download_fb15k237(cache_dir() / "fb15k-237")
    if folder is None:
        where = f"{source.data_dir} or " if source.data_dir else ""
        raise DataError(
            "FB15k-237 not found. Put train.txt, valid.txt and test.txt (and optionally entity2wikidata.json, "
            f"FB15k_mid2name.txt) in {where}${DATA_DIR_ENV}/fb15k-237 or {cache_dir() / 'fb15k-237'}, "
            "or run `python -m kgcore download fb15k237` when online."
        )
    # FB15k-237's valid/test hold 36 entities absent from train; benchmarks keep them (standard protocol).
    return KnowledgeGraph.from_folder(folder, spec=source.spec or BUILTIN_SPECS["fb15k237"],
                                      labels_file=source.labels_file, unseen="keep", name="fb15k237")


BUILTIN_DATASETS["fb15k237"] = _load_fb15k237


def _load_demo(source: DataSource) -> KnowledgeGraph:
    """The synthetic demo world; ``source.options`` sets its size and seed (e.g. {"n_people": 500, "seed": 1})."""
    from ..demo import load_demo_source  # imported here: kgcore.demo is only needed when the demo is asked for

    return load_demo_source(source)


BUILTIN_DATASETS["demo"] = _load_demo
