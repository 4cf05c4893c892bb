"""Filtered rank-based link prediction (Bordes et al. 2013), vectorised in torch and batched to a
bounded score block.

For each test triple (h, r, t) the tail side ranks t among all entities e by score(h, r, e), after
removing every other e for which (h, r, e) is a known true triple in train, valid or test; the head
side does the same for h. Ties count as the realistic rank: the mean of the optimistic and pessimistic
ranks, 1 + #better + #tied / 2, so a model that scores everything equally gets the expected rank of a
random guess, not rank 1.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import kernels
from ..errors import KGError
from ..data.graph import KnowledgeGraph

HITS_AT = (1, 3, 10, 50)
DEFAULT_BLOCK_BYTES = 256 * 2**20


class FilterIndex:
    """For each query key (e.g. h*R + r) the sorted list of answers known true, in CSR form."""

    def __init__(self, keys: torch.Tensor, answers: torch.Tensor) -> None:
        order = torch.argsort(keys, stable=True)
        self.answers = answers[order]
        sorted_keys = keys[order]
        self.unique_keys, counts = torch.unique_consecutive(sorted_keys, return_counts=True)
        self.ptr = torch.zeros(counts.numel() + 1, dtype=torch.long)
        self.ptr[1:] = torch.cumsum(counts, 0)

    def lookup(self, query_keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(row in the batch, answer entity) for every known answer of every query."""
        pos = torch.searchsorted(self.unique_keys, query_keys).clamp_max(self.unique_keys.numel() - 1)
        found = self.unique_keys[pos] == query_keys
        start = self.ptr[pos]
        count = torch.where(found, self.ptr[pos + 1] - start, torch.zeros_like(start))
        rows = torch.repeat_interleave(torch.arange(query_keys.numel()), count)
        offsets = torch.arange(rows.numel()) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
        return rows, self.answers[torch.repeat_interleave(start, count) + offsets]


def _filter_indices(graph: KnowledgeGraph) -> tuple[FilterIndex, FilterIndex]:
    cache = graph.__dict__.setdefault("_filter_indices", None)
    if cache is None:
        known = graph.all_triples
        r_count = graph.num_relations
        tail_index = FilterIndex(known[:, 0] * r_count + known[:, 1], known[:, 2])
        head_index = FilterIndex(known[:, 2] * r_count + known[:, 1], known[:, 0])
        cache = graph.__dict__["_filter_indices"] = (tail_index, head_index)
    return cache


def realistic_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Rank of ``scores[i, targets[i]]`` in row i; filtered-out entries must already be -inf."""
    if kernels.AVAILABLE and scores.device.type == "cpu" and scores.dtype == torch.float32:
        out = np.empty(scores.shape[0], dtype=np.float64)
        kernels.run_parallel(kernels.realistic_ranks, scores.contiguous().numpy(), targets.numpy(), out)
        return torch.from_numpy(out)
    target_scores = scores.gather(1, targets.unsqueeze(1))
    better = (scores > target_scores).sum(1)
    tied = (scores == target_scores).sum(1) - 1  # minus the target itself
    return 1.0 + better.double() + tied.double() / 2.0


def _summarise(ranks: torch.Tensor) -> dict[str, float]:
    if ranks.numel() == 0:
        return {"mrr": float("nan"), "mean_rank": float("nan"), **{f"hits@{k}": float("nan") for k in HITS_AT},
                "count": 0}
    out = {"mrr": float((1.0 / ranks).mean()), "mean_rank": float(ranks.mean())}
    for k in HITS_AT:
        out[f"hits@{k}"] = float((ranks <= k).double().mean())
    out["count"] = int(ranks.numel())
    return out


@torch.no_grad()
def rank_triples(model, graph: KnowledgeGraph, triples: torch.Tensor, side: str, filtered: bool = True,
                 batch_size: int | None = None, block_bytes: int = DEFAULT_BLOCK_BYTES,
                 progress: bool = False) -> torch.Tensor:
    """Realistic filtered ranks of ``triples`` [n, 3] on one side ('head' or 'tail')."""
    if side not in ("head", "tail"):
        raise KGError(f"side must be 'head' or 'tail', not {side!r}")
    device = next(model.parameters()).device
    n_ent = graph.num_entities
    if batch_size is None:
        # Scores plus the comparison masks: about 3 floats' worth of bytes per entry.
        batch_size = max(1, block_bytes // (n_ent * 12))
    tail_index, head_index = _filter_indices(graph)
    index = tail_index if side == "tail" else head_index
    ranks = []
    steps = range(0, triples.shape[0], batch_size)
    for begin in tqdm(steps, desc=f"rank {side}s", disable=not progress, leave=False):
        batch = triples[begin:begin + batch_size]
        h, r, t = (batch[:, i].to(device) for i in range(3))
        if side == "tail":
            scores = model.score_tails(h, r)
            targets, keys = t, batch[:, 0] * graph.num_relations + batch[:, 1]
        else:
            scores = model.score_heads(r, t)
            targets, keys = h, batch[:, 2] * graph.num_relations + batch[:, 1]
        scores = scores.float()
        if filtered:
            target_scores = scores.gather(1, targets.unsqueeze(1)).clone()
            rows, answers = index.lookup(keys)
            scores[rows.to(device), answers.to(device)] = float("-inf")
            scores.scatter_(1, targets.unsqueeze(1), target_scores)
        ranks.append(realistic_ranks(scores, targets).cpu())
    return torch.cat(ranks) if ranks else torch.empty(0, dtype=torch.double)


def sensitive_relation_ids(graph: KnowledgeGraph) -> list[int]:
    """Ids of the relations that hold the spec's sensitive attributes (those present in the graph)."""
    return sorted(graph.relation_to_id[a.relation] for a in graph.spec.attributes if a.relation in graph.relation_to_id)


def evaluate(model, graph: KnowledgeGraph, split: str = "test", relation: str | None = None,
             filtered: bool = True, max_triples: int | None = None, seed: int = 0,
             batch_size: int | None = None, block_bytes: int = DEFAULT_BLOCK_BYTES,
             progress: bool = False, without_sensitive: bool = False) -> dict[str, Any]:
    """MRR, mean rank and Hits@1/3/10/50 for head, tail and both sides.

    ``relation`` restricts to one relation (e.g. profession prediction); ``max_triples`` evaluates a
    seeded random subset (for quick validation during training). ``without_sensitive`` leaves out the
    triples of the sensitive attributes' relations, as the debiasing paper's "(filtered)" datasets do
    (a change of the evaluated triples, not of the ranking, which is filtered either way).
    """
    if split not in graph.splits:
        raise KGError(f"Unknown split {split!r}; the graph has {', '.join(graph.splits)}.")
    triples = graph.splits[split]
    if without_sensitive:
        triples = triples[~torch.isin(triples[:, 1], torch.tensor(sensitive_relation_ids(graph), dtype=torch.long))]
    if relation is not None:
        triples = triples[triples[:, 1] == graph.relation_id(relation)]
    if triples.shape[0] == 0:
        raise KGError(f"No {split} triples to evaluate" + (f" for relation {relation!r}." if relation else "."))
    if max_triples is not None and triples.shape[0] > max_triples:
        pick = torch.randperm(triples.shape[0], generator=torch.Generator().manual_seed(seed))[:max_triples]
        triples = triples[pick]
    was_training = model.training
    model.eval()
    head = rank_triples(model, graph, triples, "head", filtered, batch_size, block_bytes, progress)
    tail = rank_triples(model, graph, triples, "tail", filtered, batch_size, block_bytes, progress)
    model.train(was_training)
    both = torch.cat([head, tail])
    return {**_summarise(both), "head": _summarise(head), "tail": _summarise(tail),
            "split": split, "relation": relation, "filtered": filtered, "without_sensitive": without_sensitive}
