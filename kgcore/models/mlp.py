"""Forward and backward passes of small leaky-ReLU MLPs, optionally with batch normalisation, without
autograd (Bose & Hamilton's filters and discriminators, ``kgcore.models.bose``).

For the few hundred people of a training step and d = 100, a layer's matrix product takes a fraction of a
millisecond on a CPU, and autograd's bookkeeping around it (recording the graph, the activation's backward
and the bias's sum as separate passes, a scatter back through boolean indexing, accumulating into
``.grad``) costs about as much again. Here each layer keeps its activated output, whose sign gives the
activation's derivative (leaky ReLU keeps the sign), one pass applies that derivative and sums the bias
gradient, and the weight gradients go straight into ``.grad``. A ``BatchNorm1d`` layer behaves as torch's
(batch statistics while its module is training, updating the running ones; running statistics otherwise)
and keeps its normalised input for the backward pass. The parameters' ``requires_grad`` and autograd's
modules are left alone: ``forward`` of the modules is still what evaluation and the general training path
run, and the tests compare every output, gradient and running statistic here with autograd's.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..kernels import AVAILABLE, njit

SLOPE = 0.01  # F.leaky_relu's default negative slope, which the modules' forward uses
Layer = tuple[nn.Module, bool]  # a linear or BatchNorm1d layer and whether a leaky ReLU follows it


class Trace(list):
    """``forward``'s output of every layer (the network's last), and for each batch-norm layer, by its
    index, what its backward pass needs: the normalised input, 1 / std and whether batch statistics
    were used."""

    def __init__(self) -> None:
        super().__init__()
        self.norms: dict[int, tuple[torch.Tensor, torch.Tensor, bool]] = {}


def uses_batch_statistics(norm: nn.BatchNorm1d, rows: int) -> bool:
    """Whether ``norm`` normalises a batch of ``rows`` with the batch's own statistics: while training (or
    without running statistics), and with at least two rows (torch refuses a single one while training;
    the filters then use the running statistics, see ``AttributeFilter``)."""
    return (norm.training or norm.running_mean is None) and rows > 1


def forward(layers: Sequence[Layer], inputs: torch.Tensor) -> Trace:
    """Every layer's (activated) output for ``inputs``, the network's last; nothing recorded for autograd.
    A training batch-norm layer updates its running statistics, as its module's forward would."""
    outputs = Trace()
    x = inputs.detach()
    for i, (layer, activated) in enumerate(layers):
        if isinstance(layer, nn.BatchNorm1d):
            x = _norm_forward(layer, x, outputs.norms, i)
        else:
            x = torch.addmm(layer.bias.detach(), x, layer.weight.detach().t())
        if activated:
            F.leaky_relu(x, SLOPE, inplace=True)
        outputs.append(x)
    return outputs


def backward(layers: Sequence[Layer], inputs: torch.Tensor, outputs: Trace, grad: torch.Tensor,
             input_grad: bool = True) -> torch.Tensor | None:
    """Back-propagate ``grad`` (d loss / d the network's output; overwritten) through ``forward``'s
    ``outputs``: adds each layer's weight and bias gradients to their ``.grad`` and returns d loss /
    d ``inputs`` (None when ``input_grad`` is False: the first layer's product is then skipped)."""
    for i in range(len(layers) - 1, -1, -1):
        layer, activated = layers[i]
        if isinstance(layer, nn.BatchNorm1d):
            if activated:
                _activation_backward(grad, outputs[i])
            if i == 0 and not input_grad:
                _norm_backward(layer, grad, outputs.norms[i], input_grad=False)
                return None
            grad = _norm_backward(layer, grad, outputs.norms[i])
            continue
        bias_grad = _activation_backward(grad, outputs[i]) if activated else grad.sum(0)
        below = outputs[i - 1] if i else inputs.detach()
        _add_grad(layer.bias, bias_grad)
        weight = layer.weight
        if weight.grad is None:
            weight.grad = torch.mm(grad.t(), below)
        else:
            weight.grad.addmm_(grad.t(), below)
        if i == 0 and not input_grad:
            return None
        grad = torch.mm(grad, weight.detach())
    return grad


def _norm_forward(norm: nn.BatchNorm1d, x: torch.Tensor,
                  saved: dict[int, tuple[torch.Tensor, torch.Tensor, bool]], index: int) -> torch.Tensor:
    """torch's ``BatchNorm1d`` on ``x`` (rows, features); keeps (normalised x, 1 / std, batch statistics?)."""
    rows = x.shape[0]
    batch = uses_batch_statistics(norm, rows)
    if batch:
        # Column sums rather than ``torch.var_mean(x, 0)``, whose reduction across rows is much slower on a CPU.
        mean = x.sum(0).div_(rows)
        x_hat = x - mean
        var = (x_hat * x_hat).sum(0).div_(rows)
        if norm.training and norm.running_mean is not None:
            _update_running(norm, mean, var, rows)
    else:
        var, x_hat = norm.running_var, x - norm.running_mean
    inv_std = torch.rsqrt(var + norm.eps)
    x_hat.mul_(inv_std)
    saved[index] = (x_hat, inv_std, batch)
    if norm.weight is None:
        return x_hat.clone()
    return torch.addcmul(norm.bias.detach(), x_hat, norm.weight.detach())


def _update_running(norm: nn.BatchNorm1d, mean: torch.Tensor, var: torch.Tensor, rows: int) -> None:
    """torch's update: an exponential average with ``momentum`` (a cumulative one when it is None) of the
    batch means and of the unbiased batch variances."""
    norm.num_batches_tracked.add_(1)
    factor = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
    norm.running_mean.mul_(1.0 - factor).add_(mean, alpha=factor)
    norm.running_var.mul_(1.0 - factor).add_(var, alpha=factor * rows / (rows - 1))


def _norm_backward(norm: nn.BatchNorm1d, grad: torch.Tensor, saved: tuple[torch.Tensor, torch.Tensor, bool],
                   input_grad: bool = True) -> torch.Tensor | None:
    """Adds d loss / d (weight, bias) to their ``.grad`` and returns d loss / d the layer's input. With
    batch statistics, dx = w / std * (g - mean(g) - x_hat * mean(g * x_hat)) (the mean and variance depend
    on every row); with running ones, dx = w / std * g."""
    x_hat, inv_std, batch = saved
    bias_grad = grad.sum(0)
    weight_grad = (grad * x_hat).sum(0)
    if norm.weight is not None:
        _add_grad(norm.weight, weight_grad)
        _add_grad(norm.bias, bias_grad)
    if not input_grad:
        return None
    scale = inv_std if norm.weight is None else inv_std * norm.weight.detach()
    if batch:
        rows = grad.shape[0]
        grad.sub_(bias_grad / rows).addcmul_(x_hat, weight_grad / rows, value=-1.0)
    return grad.mul_(scale)


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
