"""The KL term of the ``kl`` model (eq. 2 of ``kgcore.models.kl``) for L1 TransE as fused CPU kernels.

A training step's KL term is a few hundred people x a few attribute values x d; done with torch ops it is
about twenty small operations forward and as many backward, whose fixed per-operation cost (not the
arithmetic) made the KL model ~1.3x slower per epoch than TransE on FB15k-237. Two numba paths:

- ``kl_l1_batch``: the training step's path (``KLDebiasedTransE.fused_extra_loss``, with the fused
  ranking step of ``kgcore.fused``): finds the batch's people, computes their divergences and gradients
  in parallel and adds each person's gradient to the ranking step's row for them; no autograd at all.
- ``_FusedKL``: an autograd function around ``_kl_l1`` for the autograd path (other losses, or
  ``kgcore.fused`` switched off).

``kl_loss_torch`` is the same quantity in torch ops: the fallback (GPUs, L2, no numba) and what the
tests compare the kernels against.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..kernels import AVAILABLE, njit, prange


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _kl_row(q: np.ndarray, values: np.ndarray, log_target: np.ndarray, predicted_first: bool, scale: float,
            grad_q: np.ndarray, grad_values: np.ndarray, scores: np.ndarray, d_scores: np.ndarray) -> float:
    """One person's KL between softmax_v(-||q - c_v||_1) and the target; writes scale x its gradient with
    respect to ``q`` into ``grad_q`` and adds that with respect to the values into ``grad_values``.
    ``scores`` and ``d_scores`` are scratch of length V; one exp per value and one log per person."""
    n_values, dim = values.shape
    zero = np.float32(0.0)
    top = -np.inf
    for v in range(n_values):
        dist = zero
        for k in range(dim):
            dist += abs(q[k] - values[v, k])
        scores[v] = -np.float64(dist)
        top = max(top, scores[v])
    norm = 0.0
    for v in range(n_values):
        d_scores[v] = np.exp(scores[v] - top)  # unnormalised p_v for now
        norm += d_scores[v]
    inv_norm = 1.0 / norm
    log_norm = np.log(norm) + top
    kl = 0.0
    for v in range(n_values):
        log_p = scores[v] - log_norm
        scores[v] = log_p
        d_scores[v] *= inv_norm
        if predicted_first:
            kl += d_scores[v] * (log_p - log_target[v])
        else:
            kl += np.exp(log_target[v]) * (log_target[v] - log_p)
    for k in range(dim):
        grad_q[k] = zero
    for v in range(n_values):
        p = d_scores[v]
        if predicted_first:  # d KL(p || q) / d score_v = p_v (log p_v - log q_v - KL)
            ds = np.float32(scale * p * (scores[v] - log_target[v] - kl))
        else:  # d KL(q || p) / d score_v = p_v - q_v
            ds = np.float32(scale * (p - np.exp(log_target[v])))
        for k in range(dim):
            # score_v = -sum_k |q_k - c_vk|: d/dq_k = -sign(q_k - c_vk), d/dc_vk = +sign(q_k - c_vk)
            x = q[k] - values[v, k]
            g = ds if x > zero else (-ds if x < zero else zero)
            grad_q[k] -= g
            grad_values[v, k] += g
    return kl


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _kl_l1(query: np.ndarray, values: np.ndarray, log_target: np.ndarray, predicted_first: bool,
           grad_query: np.ndarray, grad_values: np.ndarray) -> float:
    """Mean over people of KL between softmax_v(-||q_j - c_v||_1) and the target; fills the gradients
    of that mean with respect to ``query`` [P, D] and ``values`` [V, D]."""
    n = query.shape[0]
    scores = np.empty(values.shape[0], dtype=np.float64)
    d_scores = np.empty(values.shape[0], dtype=np.float64)
    grad_values[:] = np.float32(0.0)
    total = 0.0
    for j in range(n):
        total += _kl_row(query[j], values, log_target, predicted_first, 1.0 / n, grad_query[j], grad_values,
                         scores, d_scores)
    return total / n


@njit(parallel=True, cache=True, fastmath=True, error_model="numpy")
def kl_l1_batch(batch: np.ndarray, is_person: np.ndarray, seen: np.ndarray, entity: np.ndarray,
                relation_row: np.ndarray, sign: float, value_ids: np.ndarray, log_target: np.ndarray,
                weight: float, predicted_first: bool, head_tail_grads: np.ndarray, grad_values: np.ndarray,
                grad_relation: np.ndarray, chunks: int) -> tuple[int, float]:
    """``_kl_l1`` for the distinct people among the heads and tails of ``batch`` [B, 3], read straight
    from the ``entity`` table, with the gradients of weight x mean_j KL: each person's is added to the row
    of ``head_tail_grads`` [2B, D] (row 2i: head of triple i, 2i + 1: its tail) where the person first
    occurs, the values' written to ``grad_values`` [V, D] and the relation's to ``grad_relation`` [1, D].
    Returns (number of people, that value). ``seen`` is a zeroed flag per entity, left zeroed. People are
    split into ``chunks`` ranges run in parallel, each summing its own value and relation gradients (run
    it through ``kernels.run_parallel``)."""
    rows = np.empty(2 * batch.shape[0], dtype=np.int64)
    n = 0
    for i in range(batch.shape[0]):
        for side in range(2):
            e = batch[i, 2 * side]
            if is_person[e] and not seen[e]:
                seen[e] = 1
                rows[n] = 2 * i + side
                n += 1
    dim = entity.shape[1]
    n_values = value_ids.shape[0]
    grad_values[:] = np.float32(0.0)
    grad_relation[:] = np.float32(0.0)
    if n == 0:
        return 0, 0.0
    values = np.empty((n_values, dim), dtype=np.float32)
    for v in range(n_values):
        values[v] = entity[value_ids[v]]
    s = np.float32(sign)
    scale = weight / n
    part_values = np.zeros((chunks, n_values, dim), dtype=np.float32)
    part_relation = np.zeros((chunks, dim), dtype=np.float32)
    part_total = np.zeros(chunks, dtype=np.float64)
    for chunk in prange(chunks):
        scores = np.empty(n_values, dtype=np.float64)
        d_scores = np.empty(n_values, dtype=np.float64)
        query = np.empty(dim, dtype=np.float32)
        grad_query = np.empty(dim, dtype=np.float32)
        total = 0.0
        for j in range(chunk * n // chunks, (chunk + 1) * n // chunks):
            row = rows[j]
            e = batch[row // 2, 2 * (row % 2)]
            seen[e] = 0
            for k in range(dim):
                query[k] = entity[e, k] + s * relation_row[0, k]
            total += _kl_row(query, values, log_target, predicted_first, scale, grad_query, part_values[chunk],
                             scores, d_scores)
            for k in range(dim):
                head_tail_grads[row, k] += grad_query[k]
                part_relation[chunk, k] += s * grad_query[k]
        part_total[chunk] = total
    for chunk in range(chunks):
        for k in range(dim):
            grad_relation[0, k] += part_relation[chunk, k]
        for v in range(n_values):
            for k in range(dim):
                grad_values[v, k] += part_values[chunk, v, k]
    return n, weight * part_total.sum() / n


class _FusedKL(torch.autograd.Function):
    """weight * mean_j KL for queries q_j = person_j + sign * relation; gradients from the kernel."""

    @staticmethod
    def forward(ctx, people: torch.Tensor, values: torch.Tensor, relation: torch.Tensor, sign: float,
                log_target: torch.Tensor, weight: float, predicted_first: bool) -> torch.Tensor:
        query = (people.detach() + sign * relation.detach()).contiguous().numpy()
        grad_query = np.empty(query.shape, dtype=np.float32)
        grad_values = np.empty(tuple(values.shape), dtype=np.float32)
        mean = _kl_l1(query, values.detach().contiguous().numpy(), log_target.detach().double().numpy(),
                      predicted_first, grad_query, grad_values)
        ctx.save_for_backward(torch.from_numpy(grad_query), torch.from_numpy(grad_values))
        ctx.sign, ctx.weight = sign, weight
        return people.new_tensor(weight * mean)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        grad_query, grad_values = ctx.saved_tensors
        scale = grad_out * ctx.weight
        grad_people = grad_query * scale
        grad_relation = grad_people.sum(0) * ctx.sign
        return grad_people, grad_values * scale, grad_relation, None, None, None, None


def kl_loss_torch(query: torch.Tensor, values: torch.Tensor, log_target: torch.Tensor, p_norm: int,
                  predicted_first: bool = True) -> torch.Tensor:
    """Mean over rows of KL(softmax_v(-||q_j - c_v||_p) || target) (or the reverse divergence)."""
    if p_norm == 1:
        scores = -(query.unsqueeze(1) - values.unsqueeze(0)).abs().sum(-1)
    else:
        scores = -torch.linalg.vector_norm(query.unsqueeze(1) - values.unsqueeze(0), ord=p_norm, dim=-1)
    log_p = F.log_softmax(scores, dim=1)
    if predicted_first:
        return (log_p.exp() * (log_p - log_target)).sum(1).mean()
    return (log_target.exp() * (log_target - log_p)).sum(1).mean()


def kl_loss(people: torch.Tensor, values: torch.Tensor, relation: torch.Tensor, sign: float,
            log_target: torch.Tensor, p_norm: int, weight: float = 1.0, predicted_first: bool = True) -> torch.Tensor:
    """weight * mean_j KL for q_j = people_j + sign * relation against ``values``: the fused kernel where it
    applies (CPU, float32, L1), otherwise ``kl_loss_torch``."""
    if (AVAILABLE and p_norm == 1 and people.device.type == "cpu" and people.dtype == torch.float32
            and values.dtype == torch.float32 and relation.dtype == torch.float32):
        return _FusedKL.apply(people, values, relation, sign, log_target, weight, predicted_first)
    return weight * kl_loss_torch(people + sign * relation, values, log_target, p_norm, predicted_first)
