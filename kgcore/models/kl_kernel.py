"""The KL term of the ``kl`` model (eq. 2 of ``kgcore.models.kl``) for L1 TransE as one fused CPU kernel.

A training step's KL term is a few hundred people x a few attribute values x d; done with torch ops it is
about twenty small operations forward and as many backward, whose fixed per-operation cost (not the
arithmetic) made the KL model ~1.2-1.3x slower per epoch than TransE on FB15k-237. Here one numba pass
computes the per-person divergences and their gradients; the autograd function hands the saved gradients
back. ``kl_loss_torch`` is the same quantity in torch ops: the fallback (GPUs, L2, no numba) and what the
tests compare the kernel against.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..kernels import AVAILABLE, njit


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _kl_l1(query: np.ndarray, values: np.ndarray, log_target: np.ndarray, predicted_first: bool,
           grad_query: np.ndarray, grad_values: np.ndarray) -> float:
    """Mean over people of KL between softmax_v(-||q_j - c_v||_1) and the target; fills the gradients
    of that mean with respect to ``query`` [P, D] and ``values`` [V, D] (float32 rows, so the inner
    loops vectorise)."""
    n, dim = query.shape
    n_values = values.shape[0]
    scores = np.empty(n_values, dtype=np.float64)
    log_p = np.empty(n_values, dtype=np.float64)
    d_scores = np.empty(n_values, dtype=np.float32)
    total = 0.0
    grad_values[:] = np.float32(0.0)
    zero, one = np.float32(0.0), np.float32(1.0)
    for j in range(n):
        q = query[j]
        for v in range(n_values):
            c = values[v]
            dist = zero
            for k in range(dim):
                dist += abs(q[k] - c[k])
            scores[v] = -dist
        top = scores.max()
        norm = 0.0
        for v in range(n_values):
            norm += np.exp(scores[v] - top)
        log_norm = top + np.log(norm)
        kl = 0.0
        for v in range(n_values):
            log_p[v] = scores[v] - log_norm
            if predicted_first:
                kl += np.exp(log_p[v]) * (log_p[v] - log_target[v])
            else:
                kl += np.exp(log_target[v]) * (log_target[v] - log_p[v])
        total += kl
        for v in range(n_values):
            p = np.exp(log_p[v])
            if predicted_first:  # d KL(p || q) / d score_v = p_v (log p_v - log q_v - KL)
                d_scores[v] = p * (log_p[v] - log_target[v] - kl) / n
            else:  # d KL(q || p) / d score_v = p_v - q_v
                d_scores[v] = (p - np.exp(log_target[v])) / n
        g = grad_query[j]
        for k in range(dim):
            g[k] = zero
        for v in range(n_values):
            c = values[v]
            gv = grad_values[v]
            ds = d_scores[v]
            for k in range(dim):
                diff = q[k] - c[k]
                sign = (one if diff > zero else zero) - (one if diff < zero else zero)
                # score_v = -sum_k |q_k - c_vk|: d/dq_k = -sign, d/dc_vk = +sign
                g[k] -= ds * sign
                gv[k] += ds * sign
    return total / n


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
