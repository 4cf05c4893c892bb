"""The KL term of the ``kl`` model (eq. 2 of ``kgcore.models.kl``) for TransE L1 as fused CPU kernels.

A training step's KL term is a few hundred people x a few attribute values x d; with torch ops it is about
twenty small operations forward and as many backward, whose fixed per-operation cost (not the arithmetic)
dominates. Two numba paths:

- ``margin_kl_l1_step``: the training step's path (``KLDebiased.fused_step``): the fused ranking kernel of
  ``kgcore.training.fused`` with every attribute's divergence and gradients computed in the same pass, each
  person's where the ranking part has just read their vector and written their gradient row; no autograd.
- ``kl_loss_l1``: an autograd function around ``_kl_l1`` for the autograd path (other losses, or
  ``kgcore.training.fused`` switched off).

Tests compare both with the divergence of the interaction's own scores (``kgcore.models.kl.kl_divergence``).
"""
from __future__ import annotations

import numpy as np
import torch

from ..training.fused import margin_positive
from ..kernels import njit, prange


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy", inline="always")
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


@njit(cache=True, nogil=True, inline="always")
def _batch_people(pos: np.ndarray, is_person: np.ndarray, num_entities: int) -> tuple[np.ndarray, int]:
    """Flags [2B] of the positives' head (2i) and tail (2i + 1) rows that hold a person's first
    occurrence in the batch, and the number of such people."""
    first = np.zeros(2 * pos.shape[0], dtype=np.uint8)
    seen = np.zeros(num_entities, dtype=np.uint8)
    people = 0
    for i in range(pos.shape[0]):
        for side in range(2):
            e = pos[i, 2 * side]
            if is_person[e] and not seen[e]:
                seen[e] = 1
                first[2 * i + side] = 1
                people += 1
    return first, people


@njit(parallel=True, cache=True, fastmath=True, error_model="numpy")
def margin_kl_l1_step(pos: np.ndarray, neg: np.ndarray, entity: np.ndarray, relation: np.ndarray, margin: float,
                      ent_grads: np.ndarray, rel_grads: np.ndarray, chunks: int, is_person: np.ndarray,
                      value_ids: np.ndarray, n_values: np.ndarray, log_target: np.ndarray,
                      attribute_relation: np.ndarray, signs: np.ndarray, weights: np.ndarray, predicted_first: bool,
                      grad_values: np.ndarray, grad_relation: np.ndarray, kl: np.ndarray) -> tuple[float, int]:
    """The fused margin step (``fused._margin_l1_step``: loss, ``ent_grads``, ``rel_grads``) with eq. (2)'s
    terms of A attributes in the same pass. Each distinct person among the positives' heads and tails is
    taken at its first occurrence, right after the ranking part has read its vector: for every attribute a
    the divergence of softmax_v(-||e + sign_a r_a - c_av||_1) from the target, whose gradient with respect
    to the person (scaled by weights[a] / people) is added to that occurrence's row of ``ent_grads``.

    Attribute a has ``n_values[a]`` values, the entities ``value_ids[a, :n_values[a]]`` (rows padded to
    the largest count), target ``log_target[a]``, relation ``attribute_relation[a]`` and ``signs[a]``
    (-1 for attributes stored value -> person). Fills ``grad_values`` [A, Vmax, D] and ``grad_relation``
    [A, D] with the gradients of sum_a weights[a] * mean_j KL_a(j) and ``kl`` [A] with those terms;
    returns (ranking loss, number of people). Run it through ``kernels.run_parallel``."""
    batch, k_neg = neg.shape[0], neg.shape[1]
    dim = entity.shape[1]
    n_attributes, v_max = value_ids.shape
    first, people = _batch_people(pos, is_person, entity.shape[0])
    values = np.empty((n_attributes, v_max, dim), dtype=np.float32)
    for a in range(n_attributes):
        for v in range(v_max):
            for k in range(dim):
                values[a, v, k] = entity[value_ids[a, v], k] if v < n_values[a] else np.float32(0.0)
    weight = np.float32(1.0 / (batch * k_neg))
    gamma = np.float32(margin)
    # Per-chunk partial sums, each zeroed by its own chunk: no array expressions in this kernel, which
    # numba would make parallel regions of their own (~10 us apiece).
    partial = np.empty(chunks)
    part_values = np.empty((chunks, n_attributes, v_max, dim), dtype=np.float32)
    part_relation = np.empty((chunks, n_attributes, dim), dtype=np.float32)
    part_kl = np.empty((chunks, n_attributes))
    for chunk in prange(chunks):
        for a in range(n_attributes):
            part_kl[chunk, a] = 0.0
            for k in range(dim):
                part_relation[chunk, a, k] = np.float32(0.0)
            for v in range(v_max):
                for k in range(dim):
                    part_values[chunk, a, v, k] = np.float32(0.0)
        pos_sign = np.empty(dim, np.float32)
        diff = np.empty(dim, np.float32)
        query = np.empty(dim, np.float32)
        grad_query = np.empty(dim, np.float32)
        scores = np.empty(v_max)
        d_scores = np.empty(v_max)
        total = 0.0
        for i in range(chunk * batch // chunks, (chunk + 1) * batch // chunks):
            total += margin_positive(i, pos, neg, entity, relation, gamma, weight, ent_grads, rel_grads,
                                     pos_sign, diff)
            for side in range(2):
                row = 2 * i + side
                if not first[row]:
                    continue
                e = pos[i, 2 * side]
                for a in range(n_attributes):
                    nv = n_values[a]
                    s = np.float32(signs[a])
                    r = attribute_relation[a]
                    for k in range(dim):
                        query[k] = entity[e, k] + s * relation[r, k]
                    part_kl[chunk, a] += _kl_row(query, values[a, :nv], log_target[a, :nv], predicted_first,
                                                 weights[a] / people, grad_query, part_values[chunk, a, :nv],
                                                 scores[:nv], d_scores[:nv])
                    for k in range(dim):
                        ent_grads[row, k] += grad_query[k]
                        part_relation[chunk, a, k] += s * grad_query[k]
        partial[chunk] = total
    loss = 0.0
    for chunk in range(chunks):
        loss += partial[chunk]
    for a in range(n_attributes):
        kl[a] = 0.0
        for k in range(dim):
            grad_relation[a, k] = np.float32(0.0)
        for v in range(v_max):
            for k in range(dim):
                grad_values[a, v, k] = np.float32(0.0)
        for chunk in range(chunks):
            kl[a] += part_kl[chunk, a] * weights[a] / max(people, 1)
            for k in range(dim):
                grad_relation[a, k] += part_relation[chunk, a, k]
            for v in range(n_values[a]):
                for k in range(dim):
                    grad_values[a, v, k] += part_values[chunk, a, v, k]
    return loss * weight, people


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


def kl_loss_l1(people: torch.Tensor, values: torch.Tensor, relation: torch.Tensor, sign: float,
               log_target: torch.Tensor, weight: float = 1.0, predicted_first: bool = True) -> torch.Tensor:
    """weight * mean_j KL for TransE L1 queries q_j = people_j + sign * relation against ``values``, through
    the numba kernel (CPU, float32; the caller checks ``kgcore.kernels.AVAILABLE``)."""
    return _FusedKL.apply(people, values, relation, sign, log_target, weight, predicted_first)
