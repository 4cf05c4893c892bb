"""The bias measure (``kgcore.analysis.measure``) over people read in chunks, for graphs whose entity table
does not fit in memory (a PyTorch-BigGraph checkpoint of all of Wikidata holds tens of millions of rows).

Each person's perturbation and response depend only on their own row, the attribute values' and the
professions' vectors and the relations: so people are read ``chunk_size`` rows at a time from any array
that slices like numpy (an HDF5 dataset as PBG writes it, a ``numpy.memmap``), each chunk goes through the
same ``perturb`` and scores as ``measure_bias``, and only per-profession sums are kept. Memory is bounded
by the chunk, whatever the number of people.

The model only needs the rows it scores against: values and professions. For a big import, build a model
whose entity table holds just those (``person_ids`` None: no per-person hooks); with ``person_ids`` given,
models whose scores depend on the person's id (KL attribute vectors) are measured exactly as in memory.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.graph import AttributeTable
from ..models import KGEModel
from .measure import check_parameters, evaluation_mode, perturb

DEFAULT_CHUNK = 65536


@dataclass
class StreamingResult:
    """Mean changes over people: ``score_change`` and ``probability_change`` are [professions, values
    measured] (the columns of ``measure_bias``'s arrays); ``seconds`` of measuring, ``chunks`` read."""

    score_change: np.ndarray
    probability_change: np.ndarray
    people: int
    seconds: float
    chunks: int


def measured_table(name: str, relation_id: int, value_ids: torch.Tensor, reversed_: bool = False) -> AttributeTable:
    """An attribute (or the target relation) given by its relation and value entity ids alone, without
    the people-by-value membership a graph provides (the streaming measure does not need it)."""
    value_ids = torch.as_tensor(value_ids, dtype=torch.long)
    return AttributeTable(name=name, relation_id=int(relation_id), reversed=reversed_,
                          person_ids=torch.empty(0, dtype=torch.long), value_ids=value_ids,
                          value_labels=[str(int(v)) for v in value_ids],
                          membership=torch.zeros((0, value_ids.numel()), dtype=torch.bool))


def _profession_scores(model: KGEModel, emb: torch.Tensor, ids: torch.Tensor | None,
                       target: AttributeTable) -> torch.Tensor:
    with torch.no_grad():
        return model.score_head_embeddings(emb, target.relation_id, target.value_ids.to(emb.device), heads=ids)


def stream_bias(model: KGEModel, people: Any, table: AttributeTable, target: AttributeTable,
                values: list[int] | None = None, steps: int = 1, step_size: float = 0.01, contrast: bool = True,
                person_ids: torch.Tensor | None = None, chunk_size: int = DEFAULT_CHUNK,
                progress: bool = False) -> StreamingResult:
    """B_p^v for every profession of ``target`` and each value index in ``values`` (all by default) of
    ``table``, averaged over the rows of ``people`` ([P, D], read ``chunk_size`` rows at a time).

    ``person_ids`` (the rows' entity ids in ``model``) is passed to the model's per-person hooks; leave it
    None when the model's table holds only the values and professions."""
    check_parameters(steps, step_size)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive (got {chunk_size})")
    values = list(range(table.num_values)) if values is None else list(values)
    total = int(people.shape[0])
    n_prof = target.num_values
    score_sum = np.zeros((n_prof, len(values)))
    prob_sum = np.zeros((n_prof, len(values)))
    device = model.entity.weight.device
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="people", desc="measuring")
    started = time.perf_counter()
    chunks = 0
    with evaluation_mode(model):
        for lo in range(0, total, chunk_size):
            hi = min(lo + chunk_size, total)
            emb = torch.from_numpy(np.array(people[lo:hi], dtype=np.float32)).to(device)
            ids = None if person_ids is None else person_ids[lo:hi].to(device)
            before = _profession_scores(model, emb, ids, target)
            before_probs = torch.softmax(before, dim=1)
            for column, value in enumerate(values):
                moved, _ = perturb(model, emb, ids, table, value, steps, step_size, contrast)
                after = _profession_scores(model, moved, ids, target)
                score_sum[:, column] += (after - before).double().sum(0).cpu().numpy()
                prob_sum[:, column] += (torch.softmax(after, dim=1) - before_probs).double().sum(0).cpu().numpy()
            chunks += 1
            if bar is not None:
                bar.update(hi - lo)
    if bar is not None:
        bar.close()
    count = max(total, 1)
    return StreamingResult(score_change=score_sum / count, probability_change=prob_sum / count, people=total,
                           seconds=time.perf_counter() - started, chunks=chunks)
