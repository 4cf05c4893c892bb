"""The least time an epoch of the fisher2020 preset can take on this machine: its matrix products' multiply-adds
over the rate at which torch multiplies matrices of those shapes here.

An epoch scores each batch's 1000 positives against the pool of 1000 shared negatives as tails and as heads:
two [B, d] x [d, K] products forward, and for each two more of the same size backward (the gradients of the
positives' side and of the pool), 2 * B * d * K multiply-adds and adds each. Any engine that trains the same
setting (same batch, pool and dimension) does at least this arithmetic; how fast this machine does it bounds
every engine's epoch from below, PyTorch-BigGraph's included (which scores separate pools of heads and tails,
so at least as much). Prints the count, the measured rate of each product shape, and the bound.

    KGCORE_DATA_DIR=../shared/data python bench/matmul_bound.py
"""
from __future__ import annotations

import argparse
import time

import torch

from kgcore.data.datasets import DataSource
from kgcore.training.presets import FISHER2020


def seconds_per_call(fn, repeats: int) -> float:
    for _ in range(max(3, repeats // 10)):
        fn()
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="FB15k-237 folder (default: $KGCORE_DATA_DIR/fb15k-237, then the cache)")
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    batch, pool = int(FISHER2020.train["batch_size"]), int(FISHER2020.train["num_negatives"])
    dim = int(FISHER2020.model["dim"])
    triples = DataSource(dataset="fb15k237", data_dir=args.data_dir).load().splits["train"].shape[0]
    batches = -(-triples // batch)
    flop = 2 * batch * dim * pool  # one [B, d] x [d, K] product
    per_epoch = batches * 2 * 3 * flop  # two sides, forward and two gradients each
    positives, negatives, grad = torch.randn(batch, dim), torch.randn(pool, dim), torch.randn(batch, pool)
    shapes = {"scores  [B,d] x [d,K]": lambda: positives @ negatives.T,
              "grad of positives  [B,K] x [K,d]": lambda: grad @ negatives,
              "grad of the pool  [K,B] x [B,d]": lambda: grad.T @ positives}
    print(f"fisher2020 preset on FB15k-237: {batches} batches of {batch}, pool {pool}, d {dim}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    total = 0.0
    for name, fn in shapes.items():
        seconds = seconds_per_call(fn, args.repeats)
        total += seconds
        print(f"  {name:34s} {seconds * 1e3:6.2f} ms  {flop / seconds / 1e9:6.1f} GFLOP/s")
    print(f"multiply-adds per epoch: {per_epoch / 1e9:.0f} GFLOP; the three products of one side take "
          f"{total * 1e3:.1f} ms, so the products alone need {batches * 2 * total:.1f} s per epoch here")


if __name__ == "__main__":
    main()
