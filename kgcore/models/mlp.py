"""Forward and backward passes of small leaky-ReLU MLPs without autograd (Bose & Hamilton's filters and
discriminators, ``kgcore.models.bose``).

For the few hundred people of a training step and d = 100, a layer's matrix product takes ~0.05-0.3 ms on
a CPU, and autograd's bookkeeping around it (recording the graph, the activation's backward and the
bias's sum as separate passes, a scatter back through boolean indexing, accumulating into ``.grad``)
cost about as much again. Here each layer keeps its activated output, whose sign gives the activation's
derivative (leaky ReLU keeps the sign), one pass applies that derivative and sums the bias gradient, and
the weight gradients go straight into ``.grad``. The parameters' ``requires_grad`` and autograd's
modules are left alone: ``forward`` of the modules is still what evaluation and the general training
path run, and the tests compare every gradient here with autograd's.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..kernels import AVAILABLE, njit

SLOPE = 0.01  # F.leaky_relu's default negative slope, which the modules' forward uses
Layer = tuple[nn.Linear, bool]  # a linear layer and whether a leaky ReLU follows it


def forward(layers: Sequence[Layer], inputs: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's (activated) output for ``inputs``, the network's last; nothing recorded for autograd."""
    outputs = []
    x = inputs.detach()
    for linear, activated in layers:
        x = torch.addmm(linear.bias.detach(), x, linear.weight.detach().t())
        if activated:
            F.leaky_relu(x, SLOPE, inplace=True)
        outputs.append(x)
    return outputs


def backward(layers: Sequence[Layer], inputs: torch.Tensor, outputs: list[torch.Tensor], grad: torch.Tensor,
             input_grad: bool = True) -> torch.Tensor | None:
    """Back-propagate ``grad`` (d loss / d the network's output; overwritten) through ``forward``'s
    ``outputs``: adds each layer's weight and bias gradients to their ``.grad`` and returns d loss /
    d ``inputs`` (None when ``input_grad`` is False: the first layer's product is then skipped)."""
    for i in range(len(layers) - 1, -1, -1):
        linear, activated = layers[i]
        bias_grad = _activation_backward(grad, outputs[i]) if activated else grad.sum(0)
        below = outputs[i - 1] if i else inputs.detach()
        _add_grad(linear.bias, bias_grad)
        weight = linear.weight
        if weight.grad is None:
            weight.grad = torch.mm(grad.t(), below)
        else:
            weight.grad.addmm_(grad.t(), below)
        if i == 0 and not input_grad:
            return None
        grad = torch.mm(grad, weight.detach())
    return grad


def _add_grad(param: nn.Parameter, grad: torch.Tensor) -> None:
    if param.grad is None:
        param.grad = grad
    else:
        param.grad.add_(grad)


def _activation_backward(grad: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """Multiply ``grad`` in place by leaky ReLU's derivative at ``output`` (its sign is its input's) and
    return the column sums of the result (the layer's bias gradient)."""
    if AVAILABLE and grad.device.type == "cpu" and grad.dtype == torch.float32 and grad.is_contiguous() \
            and output.is_contiguous():
        bias_grad = np.empty(grad.shape[1], np.float32)
        _leaky_relu_backward(grad.numpy(), output.detach().numpy(), np.float32(SLOPE), bias_grad)
        return torch.from_numpy(bias_grad)
    grad.mul_(torch.where(output > 0, 1.0, SLOPE))
    return grad.sum(0)


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _leaky_relu_backward(grad: np.ndarray, output: np.ndarray, slope: np.float32, bias_grad: np.ndarray) -> None:
    rows, cols = grad.shape
    one = np.float32(1.0)
    bias_grad[:] = np.float32(0.0)
    for i in range(rows):
        for j in range(cols):  # branch-free, so it vectorises: 4x faster than skipping the positive entries
            g = grad[i, j] * (one if output[i, j] > np.float32(0.0) else slope)
            grad[i, j] = g
            bias_grad[j] += g
