"""What every import shares: embeddings with names, mapped onto a graph's ids and saved as a run."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data.datasets import DataSource
from ..data.graph import KnowledgeGraph
from ..errors import CheckpointError
from ..models import KGEModel, ModelConfig, build_model
from ..runs import save_run
from ..training.loop import TrainConfig


@dataclass
class ImportedEmbeddings:
    """Tables read from another engine, rows named: ``entities`` [N, D], ``relations`` [R, width of the
    interaction's relation rows], and ``source``: JSON-serialisable facts about where they came from
    (written into the run's metrics under ``imported``)."""

    interaction: str
    entity_names: list[str]
    entities: torch.Tensor
    relation_names: list[str]
    relations: torch.Tensor
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.entities.shape[1])


def _examples(names: set[str]) -> str:
    shown = sorted(names)[:3]
    return ", ".join(repr(n) for n in shown) + (", ..." if len(names) > 3 else "")


def align(names: list[str], wanted: list[str], what: str, origin: str) -> torch.Tensor:
    """Row of ``names`` for each of ``wanted`` (the graph's ids in order); refuses duplicates and any
    difference between the two sets, since a model scores exactly the entities it was trained on."""
    index = {name: i for i, name in enumerate(names)}
    if len(index) != len(names):
        raise CheckpointError(f"{origin} names some {what} twice; it is damaged or mixes two vocabularies.")
    missing = set(wanted) - set(index)
    extra = set(index) - set(wanted)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of the graph's {what} are not in it ({_examples(missing)})")
        if extra:
            parts.append(f"{len(extra)} of its {what} are not in the graph ({_examples(extra)})")
        raise CheckpointError(f"{origin} does not match the graph: {'; '.join(parts)}. Give the data the model "
                              "was trained on (the same triples, with --unseen keep if it trained on valid/test "
                              "entities too).")
    return torch.tensor([index[name] for name in wanted], dtype=torch.long)


def build_imported_model(imported: ImportedEmbeddings, graph: KnowledgeGraph) -> KGEModel:
    """A Basic kgcore model on ``graph`` holding the imported tables, rows reordered to the graph's ids.
    Entity vectors are not renormalised (``entity_norm`` off): they are scored as the engine scored them."""
    origin = imported.source.get("path", "the imported model")
    entity_rows = align(imported.entity_names, graph.entities, "entities", origin)
    relation_rows = align(imported.relation_names, graph.relations, "relations", origin)
    config = ModelConfig(model="transe", dim=imported.dim, interaction=imported.interaction, entity_norm=False)
    model = build_model(config, graph)
    expected = model.relation.weight.shape[1]
    if imported.relations.shape[1] != expected:
        raise CheckpointError(f"{origin}: relation rows of width {imported.relations.shape[1]} do not fit the "
                              f"{imported.interaction} interaction (width {expected}); the file is damaged.")
    with torch.no_grad():
        model.entity.weight.copy_(imported.entities.float()[entity_rows])
        model.relation.weight.copy_(imported.relations.float()[relation_rows])
    return model.eval()


def save_imported_run(out: str | os.PathLike, imported: ImportedEmbeddings, graph: KnowledgeGraph,
                      source: DataSource, overwrite: bool = False) -> Path:
    """Write the imported model as a run folder (``kgcore.runs.save_run``): zero epochs trained here, the
    origin recorded in its metrics."""
    model = build_imported_model(imported, graph)
    train_config = TrainConfig(epochs=0, device="cpu")
    metrics = {"imported": {**imported.source, "interaction": imported.interaction}}
    return save_run(out, model, graph, source, train_config, metrics=metrics, overwrite=overwrite)
