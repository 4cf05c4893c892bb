"""One fused CPU kernel for plain TransE's most common training step: L1 distance, margin ranking loss,
corrupted-head-or-tail negatives.

Through autograd that step is a dozen small torch operations forward and as many backward (lookups, the
distance, the hinge, their gradients), each with a fixed cost that dominates at batch 1024. The loss and
its gradient have a closed form, so one numba pass computes both:

    L = 1 / (B K) * sum_{i, k} max(0, margin + d(h_i, r_i, t_i) - d(h'_ik, r_i, t'_ik)),
    d(h, r, t) = ||h + r - t||_1,   d d / d h = sign(h + r - t) = d d / d r = -d d / d t

(the same subgradients as torch: sign(0) = 0, and no gradient where the hinge is exactly 0). The per-lookup
gradients go to the tables' ``pending`` lists exactly as the autograd lookups would put them, so the
row optimizer, constraints and everything after the step are unchanged. Each model says whether it has a
fused step (``KGEModel.supports_fused_step``) and takes it (``KGEModel.fused_step``): the Basic model as is, the KL
model with its divergence computed in the same pass (``kl_kernel.margin_kl_l1_step``, built on
``margin_positive``), Bose & Hamilton's model by running the kernel
on the batch's filtered vectors as if they were the entity table (``margin_l1_grads``, ``distinct``,
``move_rows``). ``train`` uses it only where it computes the same thing as the general path (``applies``);
tests compare the two.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import kernels
from ..kernels import njit, prange

ENABLED = True  # tests switch it off to compare with the autograd path


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy", inline="always")
def margin_positive(i: int, pos: np.ndarray, neg: np.ndarray, entity: np.ndarray, relation: np.ndarray,
                    gamma: np.float32, weight: np.float32, ent_grads: np.ndarray, rel_grads: np.ndarray,
                    pos_sign: np.ndarray, diff: np.ndarray) -> float:
    """Positive ``i`` and its negatives: writes their rows of ``ent_grads`` (2i, 2i + 1, then the
    negatives' after the 2 B positive rows) and row i of ``rel_grads``, returns the sum of their hinges.
    ``pos_sign`` and ``diff`` are scratch of length D. The body of every fused margin kernel (TransE's
    here, the KL model's in ``kl_kernel``); inlined: called per positive with a dozen arrays, it made the
    KL kernel measurably slower than the inline loop TransE's kernel had."""
    batch, k_neg = neg.shape[0], neg.shape[1]
    dim = entity.shape[1]
    zero, one = np.float32(0.0), np.float32(1.0)
    h, r, t = pos[i, 0], pos[i, 1], pos[i, 2]
    d_pos = zero
    for c in range(dim):
        x = entity[h, c] + relation[r, c] - entity[t, c]
        d_pos += abs(x)
        pos_sign[c] = (one if x > zero else zero) - (one if x < zero else zero)
    for c in range(dim):
        rel_grads[i, c] = zero
    active = zero
    total = 0.0
    base = 2 * batch + 2 * i * k_neg  # negative rows follow the 2 B positive rows
    for k in range(k_neg):
        nh, nt = neg[i, k, 0], neg[i, k, 2]
        d_neg = zero
        for c in range(dim):
            x = entity[nh, c] + relation[r, c] - entity[nt, c]
            diff[c] = x
            d_neg += abs(x)
        hinge = gamma + d_pos - d_neg
        row_h, row_t = base + 2 * k, base + 2 * k + 1
        if hinge > zero:
            total += hinge
            active += one
            for c in range(dim):
                x = diff[c]
                g = -weight * ((one if x > zero else zero) - (one if x < zero else zero))
                ent_grads[row_h, c] = g
                ent_grads[row_t, c] = -g
                rel_grads[i, c] += g
        else:
            for c in range(dim):
                ent_grads[row_h, c] = zero
                ent_grads[row_t, c] = zero
    scale = weight * active
    for c in range(dim):
        g = scale * pos_sign[c]
        ent_grads[2 * i, c] = g
        ent_grads[2 * i + 1, c] = -g
        rel_grads[i, c] += g
    return total


@njit(parallel=True, cache=True, fastmath=True, error_model="numpy")
def _margin_l1_step(pos: np.ndarray, neg: np.ndarray, entity: np.ndarray, relation: np.ndarray, margin: float,
                    ent_grads: np.ndarray, rel_grads: np.ndarray, chunks: int) -> float:
    """Loss of the batch; fills ``ent_grads`` [2 B (1 + K), D] (rows in the order of ``entity_ids``) and
    ``rel_grads`` [B, D] (one row per positive: its negatives share its relation). Positives are split
    into ``chunks`` ranges run in parallel: each writes only its own rows (run it through
    ``kernels.run_parallel``)."""
    batch, k_neg = neg.shape[0], neg.shape[1]
    dim = entity.shape[1]
    weight = np.float32(1.0 / (batch * k_neg))
    gamma = np.float32(margin)
    partial = np.zeros(chunks, dtype=np.float64)
    for chunk in prange(chunks):
        pos_sign = np.empty(dim, np.float32)
        diff = np.empty(dim, np.float32)
        total = 0.0
        for i in range(chunk * batch // chunks, (chunk + 1) * batch // chunks):
            total += margin_positive(i, pos, neg, entity, relation, gamma, weight, ent_grads, rel_grads,
                                     pos_sign, diff)
        partial[chunk] = total
    return partial.sum() * weight


def applies(model, config, device: torch.device) -> bool:
    """Whether the fused step computes exactly what the general path would for this model and setting:
    an interaction with a fused margin step (TransE L1), a model with a fused step
    (``KGEModel.supports_fused_step``), margin loss, unfiltered corrupted negatives, CPU, float32."""
    return (ENABLED and kernels.AVAILABLE and model.interaction.fused_margin_step and model.supports_fused_step()
            and config.loss == "margin" and config.negative_mode == "corrupt" and not config.filtered_negatives
            and device.type == "cpu"
            and model.entity.weight.dtype == torch.float32 and model.relation.weight.dtype == torch.float32)


def lookup_ids(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """The entity of each row of the ranking step's gradient: positives' (head, tail) pairs, then the
    negatives' in order."""
    return torch.cat([pos[:, [0, 2]].reshape(-1), neg[:, :, [0, 2]].reshape(-1)])


def margin_l1_grads(pos: torch.Tensor, neg: torch.Tensor, entity: np.ndarray, relation: np.ndarray,
                    margin: float) -> tuple[float, np.ndarray, np.ndarray]:
    """The kernel on any entity table (a model's own, or the vectors a model scores, as Bose's filtered
    ones): the loss, one gradient row per lookup (in ``lookup_ids`` order) and one per positive's relation."""
    batch, k_neg = neg.shape[0], neg.shape[1]
    dim = entity.shape[1]
    ent_grads = np.empty((2 * batch * (1 + k_neg), dim), np.float32)
    rel_grads = np.empty((batch, dim), np.float32)
    loss = kernels.run_parallel(_margin_l1_step, pos.contiguous().numpy(), neg.contiguous().numpy(), entity,
                                relation, float(margin), ent_grads, rel_grads, kernels.chunks(batch))
    return float(loss), ent_grads, rel_grads


@njit(cache=True, nogil=True)
def _first_occurrence(ids: np.ndarray, slot: np.ndarray, unique: np.ndarray, inverse: np.ndarray) -> int:
    """Distinct ``ids`` in order of first occurrence into ``unique`` and each id's position there into
    ``inverse``; ``slot`` (-1 per entity) is left holding every distinct id's position."""
    n = 0
    for i in range(ids.shape[0]):
        e = ids[i]
        if slot[e] < 0:
            slot[e] = n
            unique[n] = e
            n += 1
        inverse[i] = slot[e]
    return n


def distinct(ids: torch.Tensor, slot: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(distinct ids, position of each id among them) without sorting (``torch.unique`` sorts, which costs
    more at a batch's few thousand ids). ``slot`` is a per-entity int64 array of -1s, left as it was."""
    flat = ids.contiguous().numpy()
    unique = np.empty(flat.shape[0], np.int64)
    inverse = np.empty(flat.shape[0], np.int64)
    n = _first_occurrence(flat, slot, unique, inverse)
    slot[unique[:n]] = -1
    return torch.from_numpy(unique[:n]), torch.from_numpy(inverse)


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _move_rows(inverse: np.ndarray, target: np.ndarray, grads: np.ndarray, out: np.ndarray) -> None:
    """Add each gradient row ``grads[i]`` whose entity has a target row (``target[inverse[i]] >= 0``) to
    ``out[target[inverse[i]]]`` and zero it in ``grads``."""
    for i in range(inverse.shape[0]):
        row = target[inverse[i]]
        if row >= 0:
            for k in range(grads.shape[1]):
                out[row, k] += grads[i, k]
                grads[i, k] = np.float32(0.0)


def move_rows(inverse: torch.Tensor, target: torch.Tensor, grads: np.ndarray, rows: int) -> torch.Tensor:
    """The summed gradient rows of some distinct entities (``target``: each distinct entity's row among
    them, -1 for the others), taken out of the per-lookup ``grads`` (``distinct``'s ``inverse``): what a
    model that transforms those entities' vectors (Bose's filters) backpropagates itself."""
    out = np.zeros((rows, grads.shape[1]), dtype=np.float32)
    _move_rows(inverse.numpy(), target.numpy(), grads, out)
    return torch.from_numpy(out)


def margin_l1_step(model, pos: torch.Tensor, neg: torch.Tensor, margin: float) -> float:
    """Loss of one batch; leaves the gradients in the entity and relation tables' ``pending`` lists."""
    loss, ent_grads, rel_grads = margin_l1_grads(pos, neg, model.entity.weight.detach().numpy(),
                                                 model.relation.weight.detach().numpy(), margin)
    model.entity.pending.append((lookup_ids(pos, neg), torch.from_numpy(ent_grads)))
    model.relation.pending.append((pos[:, 1], torch.from_numpy(rel_grads)))
    return loss
