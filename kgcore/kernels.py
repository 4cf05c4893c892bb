"""Fused CPU kernels (numba, already a dependency of umap-learn) for the two hot loops of a CPU run.

- Row-sparse optimizer steps: one pass per touched row sums its gradient, updates the optimizer state
  and the weight, and applies the unit-norm constraint, instead of a dozen torch ops that each gather,
  allocate and scatter megabytes.
- Evaluation: L1 distances of every query to every entity (TransE's default distance has no matrix-product
  form, and ``torch.cdist(p=1)`` is several times slower), and realistic ranks counted in one pass.

``AVAILABLE`` is False when numba cannot be imported; callers then use their torch path (and always on
GPUs). Each kernel has a torch twin that tests compare it against.
"""
from __future__ import annotations

import math

import numpy as np

try:  # pragma: no cover - exercised implicitly by every CPU run
    from numba import njit, prange

    AVAILABLE = True
except ImportError:  # pragma: no cover
    AVAILABLE = False
    prange = range

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        def wrap(fn):
            return fn
        return wrap(args[0]) if args and callable(args[0]) else wrap


def run_parallel(kernel, *args):
    """Run a ``parallel=True`` kernel on as many threads as torch uses, and leave torch's count as it was.

    numba's OpenMP layer shares the OpenMP runtime with torch, and entering a parallel region resets that
    runtime's thread count: without this, one evaluation inside ``--threads 1`` training would silently
    put the rest of the training back on every core."""
    import torch

    threads = torch.get_num_threads()
    if AVAILABLE:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        return kernel(*args)
    finally:
        torch.set_num_threads(threads)


def chunks(items: int, per_chunk: int = 64) -> int:
    """How many ranges to split ``items`` into for a ``prange`` over ranges: one per thread torch uses
    (``run_parallel`` gives numba the same count), fewer when there are too few items to share."""
    import torch

    return max(1, min(torch.get_num_threads(), items // per_chunk))


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def accumulate(ids: np.ndarray, grads: np.ndarray, acc: np.ndarray, flags: np.ndarray,
               touched: np.ndarray, n: int) -> int:
    """Add ``grads[i]`` into ``acc[ids[i]]``; list each row once in ``touched`` after the ``n`` already
    there; return the new count."""
    dim = grads.shape[1]
    for i in range(ids.shape[0]):
        row = ids[i]
        if flags[row] == 0:
            flags[row] = 1
            touched[n] = row
            n += 1
        for k in range(dim):
            acc[row, k] += grads[i, k]
    return n


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _finish_row(row: int, new: np.ndarray, weight: np.ndarray, acc: np.ndarray, flags: np.ndarray,
                unit_norm: bool) -> None:
    """Write the updated row (projected to the unit sphere if asked) and reset its accumulator."""
    dim = weight.shape[1]
    scale = np.float32(1.0)
    if unit_norm:
        norm = np.float32(0.0)
        for k in range(dim):
            norm += new[k] * new[k]
        scale = np.float32(1.0) / max(np.sqrt(norm), np.float32(1e-12))
    w = weight[row]
    a = acc[row]
    for k in range(dim):
        w[k] = new[k] * scale
        a[k] = np.float32(0.0)
    flags[row] = 0


@njit(cache=True, nogil=True)
def _adam_constants(lr: float, beta1: float, beta2: float, eps: float, bias1: float, bias2: float):
    """Adam's per-step constants in float32: betas, 1 - betas, step size, 1 / sqrt(bias2), eps."""
    return (np.float32(beta1), np.float32(beta2), np.float32(1.0 - beta1), np.float32(1.0 - beta2),
            np.float32(lr / bias1), np.float32(1.0 / math.sqrt(bias2)), np.float32(eps))


@njit(parallel=True, cache=True, fastmath=True, error_model="numpy")
def adam_rows(rows: np.ndarray, acc: np.ndarray, flags: np.ndarray, weight: np.ndarray, m: np.ndarray,
              v: np.ndarray, lr: float, beta1: float, beta2: float, eps: float, bias1: float, bias2: float,
              unit_norm: bool) -> None:
    """Lazy Adam on ``rows`` (global-step bias correction), then optional projection to the unit sphere.

    All arithmetic in float32. ``rows`` are distinct, so rows are updated in parallel without races (run it
    through ``run_parallel``); the time goes into fetching four scattered rows per entity, which two
    cores fetch nearly twice as fast. Resets each visited row's accumulator and flag for the next step.
    """
    dim = weight.shape[1]
    b1, b2, c1, c2, step, inv_sqrt_bias2, epsilon = _adam_constants(lr, beta1, beta2, eps, bias1, bias2)
    for j in prange(rows.shape[0]):
        row = rows[j]
        norm = np.float32(0.0)
        for k in range(dim):
            g = acc[row, k]
            mk = b1 * m[row, k] + c1 * g
            vk = b2 * v[row, k] + c2 * g * g
            m[row, k] = mk
            v[row, k] = vk
            w = weight[row, k] - step * mk / (np.sqrt(vk) * inv_sqrt_bias2 + epsilon)
            weight[row, k] = w
            norm += w * w
            acc[row, k] = np.float32(0.0)
        if unit_norm:
            scale = np.float32(1.0) / max(np.sqrt(norm), np.float32(1e-12))
            for k in range(dim):
                weight[row, k] = weight[row, k] * scale
        flags[row] = 0


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def adam_dense(weight: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, v_max: np.ndarray, lr: float,
               beta1: float, beta2: float, eps: float, bias1: float, bias2: float, amsgrad: bool) -> None:
    """Adam (Kingma & Ba; AMSGrad's running maximum of v if asked) on one flattened dense parameter, as
    ``torch.optim.Adam`` computes it, in float32."""
    b1, b2, c1, c2, step, inv_sqrt_bias2, epsilon = _adam_constants(lr, beta1, beta2, eps, bias1, bias2)
    for k in range(weight.shape[0]):
        g = grad[k]
        mk = b1 * m[k] + c1 * g
        vk = b2 * v[k] + c2 * g * g
        m[k] = mk
        v[k] = vk
        if amsgrad:
            vk = max(vk, v_max[k])
            v_max[k] = vk
        weight[k] -= step * mk / (np.sqrt(vk) * inv_sqrt_bias2 + epsilon)


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def adagrad_rows(rows: np.ndarray, acc: np.ndarray, flags: np.ndarray, weight: np.ndarray, total: np.ndarray,
                 lr: float, unit_norm: bool) -> None:
    dim = weight.shape[1]
    rate = np.float32(lr)
    new = np.empty(dim, np.float32)
    for j in range(rows.shape[0]):
        row = rows[j]
        a, tr, wr = acc[row], total[row], weight[row]
        for k in range(dim):
            g = a[k]
            s = tr[k] + g * g
            tr[k] = s
            new[k] = wr[k] - rate * g / (np.sqrt(s) + np.float32(1e-10))
        _finish_row(row, new, weight, acc, flags, unit_norm)


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def sgd_rows(rows: np.ndarray, acc: np.ndarray, flags: np.ndarray, weight: np.ndarray, lr: float,
             unit_norm: bool) -> None:
    dim = weight.shape[1]
    rate = np.float32(lr)
    new = np.empty(dim, np.float32)
    for j in range(rows.shape[0]):
        row = rows[j]
        a, wr = acc[row], weight[row]
        for k in range(dim):
            new[k] = wr[k] - rate * a[k]
        _finish_row(row, new, weight, acc, flags, unit_norm)


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def negative_l1(queries: np.ndarray, candidates: np.ndarray, out: np.ndarray) -> None:
    """``out[i, j] = -||queries[i] - candidates[j]||_1``, four queries per pass over the candidates so
    each candidate row loaded is used four times."""
    n_queries, dim = queries.shape
    n_candidates = candidates.shape[0]
    for block in prange((n_queries + 3) // 4):
        q0 = block * 4
        if q0 + 4 <= n_queries:
            for c in range(n_candidates):
                s0 = np.float32(0.0)
                s1 = np.float32(0.0)
                s2 = np.float32(0.0)
                s3 = np.float32(0.0)
                for k in range(dim):
                    ck = candidates[c, k]
                    s0 += abs(queries[q0, k] - ck)
                    s1 += abs(queries[q0 + 1, k] - ck)
                    s2 += abs(queries[q0 + 2, k] - ck)
                    s3 += abs(queries[q0 + 3, k] - ck)
                out[q0, c] = -s0
                out[q0 + 1, c] = -s1
                out[q0 + 2, c] = -s2
                out[q0 + 3, c] = -s3
        else:
            for q in range(q0, n_queries):
                for c in range(n_candidates):
                    s = np.float32(0.0)
                    for k in range(dim):
                        s += abs(queries[q, k] - candidates[c, k])
                    out[q, c] = -s


@njit(parallel=True, cache=True, error_model="numpy")
def realistic_ranks(scores: np.ndarray, targets: np.ndarray, out: np.ndarray) -> None:
    """``1 + #(score > target score) + #(ties other than the target) / 2`` per row, in one pass."""
    n_rows, n_cols = scores.shape
    for i in prange(n_rows):
        target = scores[i, targets[i]]
        greater = 0
        equal = 0
        for j in range(n_cols):
            value = scores[i, j]
            if value > target:
                greater += 1
            elif value == target:
                equal += 1
        out[i] = 1.0 + greater + (equal - 1) / 2.0
