"""Optimizers for the row-sparse tables of ``kgcore.models.embedding`` and for a model's few dense
parameters: each step touches only the rows a batch looked up, in one numba pass per table."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import kernels
from ..models.embedding import RowEmbedding, unit_norm


class RowOptimizer:
    """Lazy Adam / SGD / Adagrad over the touched rows of ``RowEmbedding`` tables.

    Adam here is the "lazy" variant of ``torch.optim.SparseAdam``: moments of untouched rows are not
    decayed and bias correction uses the global step. The two moments live interleaved in one
    ``[N, 2, D]`` buffer so a step reads and writes each touched row's state in one gather and one
    scatter; the table's ``constraint`` is applied in the same pass. On a CPU these row gathers are
    memory-latency bound, so fewer of them is what makes a step fast.
    """

    def __init__(self, tables: list[RowEmbedding], kind: str = "adam", lr: float = 0.01,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        if kind not in ("adam", "sgd", "adagrad"):
            raise ValueError(f"unknown optimizer {kind!r}")
        self.tables = tables
        self.kind = kind
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.steps = 0
        self.state: dict[int, torch.Tensor] = {}
        self.fast_state: dict[int, dict[str, np.ndarray]] = {}

    @staticmethod
    def _fast_path(table: RowEmbedding) -> bool:
        weight = table.weight
        return (kernels.AVAILABLE and weight.device.type == "cpu" and weight.dtype == torch.float32
                and weight.is_contiguous() and table.constraint in (None, unit_norm))

    def _fast_step(self, table: RowEmbedding) -> None:
        """Fused numba kernels: accumulate, update and constrain each touched row in one pass."""
        weight = table.weight.detach().numpy()
        key = id(table)
        if key not in self.fast_state:
            n, d = weight.shape
            state = {"acc": np.zeros((n, d), np.float32), "flags": np.zeros(n, np.uint8),
                     "touched": np.zeros(n, np.int64)}
            if self.kind == "adam":
                state["m"], state["v"] = np.zeros((n, d), np.float32), np.zeros((n, d), np.float32)
            elif self.kind == "adagrad":
                state["sum"] = np.zeros((n, d), np.float32)
            self.fast_state[key] = state
        state = self.fast_state[key]
        count = 0
        for ids, grads in table.pending:  # one pass each: concatenating them first copies megabytes a step
            count = kernels.accumulate(ids.contiguous().numpy(), grads.to(torch.float32).contiguous().numpy(),
                                       state["acc"], state["flags"], state["touched"], count)
        table.pending.clear()
        rows = state["touched"][:count]
        unit = table.constraint is unit_norm
        if self.kind == "adam":
            beta1, beta2 = self.betas
            kernels.run_parallel(kernels.adam_rows, rows, state["acc"], state["flags"], weight, state["m"], state["v"], self.lr,
                                 beta1, beta2, self.eps, 1 - beta1 ** self.steps, 1 - beta2 ** self.steps, unit)
        elif self.kind == "adagrad":
            kernels.adagrad_rows(rows, state["acc"], state["flags"], weight, state["sum"], self.lr, unit)
        else:
            kernels.sgd_rows(rows, state["acc"], state["flags"], weight, self.lr, unit)

    def _state(self, table: RowEmbedding) -> torch.Tensor:
        key = id(table)
        if key not in self.state:
            n, d = table.weight.shape
            slots = {"adam": 2, "adagrad": 1, "sgd": 0}[self.kind]
            self.state[key] = torch.zeros((n, slots * d), dtype=table.weight.dtype, device=table.weight.device)
        return self.state[key]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for table in self.tables:
            table.pending.clear()

    def slots(self) -> tuple[str, ...]:
        return {"adam": ("m", "v"), "adagrad": ("sum",), "sgd": ()}[self.kind]

    def state_dict(self) -> dict:
        """Step count and each table's moments (``m``, ``v`` or ``sum``, [rows, dim]), whichever path kept
        them, so a training resumed from it takes the very same steps."""
        tables = []
        for table in self.tables:
            key, dim = id(table), table.weight.shape[1]
            if key in self.fast_state:
                tables.append({slot: torch.from_numpy(self.fast_state[key][slot].copy()) for slot in self.slots()})
            elif key in self.state:
                parts = self.state[key].split(dim, dim=1)
                tables.append({slot: part.clone() for slot, part in zip(self.slots(), parts)})
            else:
                tables.append({})
        return {"kind": self.kind, "steps": self.steps, "tables": tables}

    def load_state_dict(self, state: dict) -> None:
        if state.get("kind") != self.kind or len(state.get("tables", ())) != len(self.tables):
            raise ValueError("the saved optimizer state is of another optimizer or model")
        self.steps = int(state["steps"])
        self.state.clear()
        self.fast_state.clear()
        for table, saved in zip(self.tables, state["tables"]):
            if not saved:
                continue
            n, d = table.weight.shape
            if any(tuple(saved[slot].shape) != (n, d) for slot in self.slots()):
                raise ValueError("the saved optimizer state does not fit the model's tables")
            if self._fast_path(table):
                fast = {"acc": np.zeros((n, d), np.float32), "flags": np.zeros(n, np.uint8),
                        "touched": np.zeros(n, np.int64)}
                fast.update({slot: saved[slot].to(torch.float32).numpy().copy() for slot in self.slots()})
                self.fast_state[id(table)] = fast
            elif self.slots():
                self.state[id(table)] = torch.cat([saved[slot] for slot in self.slots()], dim=1).to(
                    dtype=table.weight.dtype, device=table.weight.device)

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        for table in self.tables:
            if table.pending and self._fast_path(table):
                self._fast_step(table)
                continue
            taken = table.take_gradient()
            if taken is None:
                continue
            rows, grad = taken
            weight = table.weight
            current = weight.index_select(0, rows)
            if self.kind == "sgd":
                updated = current.sub_(grad, alpha=self.lr)
            elif self.kind == "adagrad":
                state = self._state(table)
                acc = state.index_select(0, rows).addcmul_(grad, grad)
                state.index_copy_(0, rows, acc)
                updated = current.addcdiv_(grad, acc.sqrt_().add_(1e-10), value=-self.lr)
            else:
                state = self._state(table)
                beta1, beta2 = self.betas
                moments = state.index_select(0, rows)
                m, v = moments.split(grad.shape[1], dim=1)
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                state.index_copy_(0, rows, moments)
                step_size = self.lr / (1 - beta1 ** self.steps)
                denom = (v / (1 - beta2 ** self.steps)).sqrt_().add_(self.eps)
                updated = current.addcdiv_(m, denom, value=-step_size)
            if table.constraint is not None:
                updated = table.constraint(updated)
            weight.index_copy_(0, rows, updated)


def torch_optimizer(kind: type[torch.optim.Optimizer], params: list[nn.Parameter], **options) -> torch.optim.Optimizer:
    """A torch optimizer in its fused form (one kernel for all parameters), foreach where that is not
    available for the parameters' device or dtype."""
    try:
        return kind(params, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):
        return kind(params, foreach=True, **options)


class DenseAdam:
    """``torch.optim.Adam`` (optionally AMSGrad) for a model's few small dense parameters (Bose's filters
    and discriminators: ~40k floats each) on a CPU, one numba pass per parameter.

    torch's optimizer spends a fixed time in Python around its kernel each step, whatever the size, which
    matters at these sizes; this does the same arithmetic (per-parameter step counts, bias correction,
    parameters without a gradient skipped) in one compiled pass. ``zero_grad`` and ``step`` as in torch;
    ``for_parameters`` falls back to torch's own where the kernel does not apply."""

    def __init__(self, params: list[nn.Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, amsgrad: bool = False) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps, self.amsgrad = lr, betas, eps, amsgrad
        self.steps = [0] * len(self.params)
        self.state = [None] * len(self.params)

    @staticmethod
    def for_parameters(params: list[nn.Parameter], lr: float, amsgrad: bool = False):
        """This optimizer where it applies (numba, CPU, float32), else torch's fused (or foreach) Adam."""
        if kernels.AVAILABLE and all(p.device.type == "cpu" and p.dtype == torch.float32 for p in params):
            return DenseAdam(params, lr=lr, amsgrad=amsgrad)
        return torch_optimizer(torch.optim.Adam, params, lr=lr, amsgrad=amsgrad)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.params:
            param.grad = None

    def state_dict(self) -> dict:
        return {"steps": list(self.steps),
                "state": [None if s is None else torch.from_numpy(s.copy()) for s in self.state]}

    def load_state_dict(self, state: dict) -> None:
        if len(state["steps"]) != len(self.params):
            raise ValueError("the saved optimizer state is of another model")
        self.steps = [int(n) for n in state["steps"]]
        self.state = [None if s is None else s.numpy().copy() for s in state["state"]]

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for i, param in enumerate(self.params):
            if param.grad is None:
                continue
            if self.state[i] is None:
                self.state[i] = np.zeros((3 if self.amsgrad else 2, param.numel()), np.float32)
            self.steps[i] += 1
            state = self.state[i]
            kernels.adam_dense(param.detach().view(-1).numpy(), param.grad.contiguous().view(-1).numpy(),
                               state[0], state[1], state[-1], self.lr, beta1, beta2, self.eps,
                               1 - beta1 ** self.steps[i], 1 - beta2 ** self.steps[i], self.amsgrad)
