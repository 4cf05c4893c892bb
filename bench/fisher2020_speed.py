"""Seconds per training step of the debiasing paper's five models in the fisher2020 preset, timed side by side
(the paper's Table 3 ratios: KL 1.04x and KL + Attr. 1.31x of Basic).

Each round gives every model in turn, in a rotating order, the same block of batches (positives and pools of
shared negatives) and times each full step (scores, loss, extra terms, backward, optimizer step, and for
Bose & Hamilton the discriminators' own steps). Interleaving keeps the ratios honest on a machine whose load
changes: every model sees the same stretches of time. Blocks of consecutive steps, not single steps, because
training runs one model's steps back to back: alternating models every step evicts each one's tables from
the caches and penalises the models that touch more memory. The first steps of each block are not timed.
Reports the median step and its ratio to Basic, the seconds an epoch of FB15k-237 would take at that rate, and
the fastest tenth of each model's steps and its ratio (on a shared machine, time stolen by other guests only
ever adds: the fast steps are the least disturbed). That last ratio means something only for models whose every
step does the same work: not Bose & Hamilton's, whose random mask picks which filters run in each batch.

``--whole-epochs`` times what the paper's Table 3 reports instead: whole epochs of the training loop
(``kgcore.training.loop.train``: batching, negatives, warm-up, optimizer), one fresh model per model and round,
models in a rotating order; the median epoch and its ratio to Basic, and the median over rounds of each round's
own ratio (the models of one round ran in the same stretch of time).

Both say how much CPU time the host took from this virtual machine while they ran (the steal share of
``/proc/stat``, where there is one). It is one sign of a busy host, not the only one: other guests' use of the
memory system slows every step without showing there, which is why the models are interleaved.

    KGCORE_DATA_DIR=../shared/data python bench/fisher2020_speed.py --rounds 6
    KGCORE_DATA_DIR=../shared/data python bench/fisher2020_speed.py --whole-epochs --rounds 3
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from kgcore.data.datasets import DataSource
from kgcore.models import build_model
from kgcore.training.loop import (TrainConfig, make_optimizer, negative_pool, seed_everything, set_learning_rate,
                                  train)
from kgcore.training.losses import ranking_loss
from kgcore.training.presets import FISHER2020

from reproduce_fisher2020 import MODELS, model_config


def cpu_counters() -> tuple[int, int] | None:
    """Steal and total jiffies of all CPUs so far (``/proc/stat``), or None where there is no such file."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> str:
    """The share of CPU time stolen from this machine between two ``cpu_counters`` readings."""
    if before is None or after is None or after[1] == before[1]:
        return "steal unknown"
    return f"steal {100 * (after[0] - before[0]) / (after[1] - before[1]):.1f}% of CPU time"


def one_step(model, optimizers, pos: torch.Tensor, pool: torch.Tensor, config: TrainConfig) -> None:
    """The training loop's shared-negatives step (``kgcore.training.loop.train``), without its bookkeeping."""
    model.auxiliary_step(pos)
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    positives, negatives = model.score_against_pool(pos, pool)
    loss = ranking_loss(positives, negatives, config)
    for term in model.extra_loss(pos).values():
        loss = loss + term
    loss.backward()
    for opt in optimizers:
        opt.step()


def rotation(round_: int, names: list[str]) -> list[str]:
    """The models in the order they run in this round: each round starts one model later."""
    return names[round_ % len(names):] + names[:round_ % len(names)]


def whole_epochs(graph, rounds: int, dim: int, names: list[str]) -> dict[str, list[float]]:
    """Seconds of one training epoch per model and round, each a fresh model trained by the training loop."""
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in rotation(round_, names):
            config = TrainConfig(**{**FISHER2020.train, "epochs": 1, "eval_every": 0, "seed": round_})
            result = train(build_model(model_config(name, dim), graph), graph, config, progress=False)
            times[name].append(result.history[-1].seconds)
    return times


def step_times(graph, config: TrainConfig, rounds: int, block_size: int, dim: int,
               names: list[str]) -> dict[str, list[float]]:
    """Seconds of each timed training step per model: interleaved blocks of the same batches."""
    seed_everything(0)
    setups = {}
    for name in names:
        model = build_model(model_config(name, dim), graph)
        model.train()
        optimizers = [opt for opt in make_optimizer(model, config.optimizer, config.lr) if opt is not None]
        set_learning_rate(optimizers, config.lr)
        setups[name] = (model, optimizers)
    train_triples = graph.splits["train"]
    generator = torch.Generator().manual_seed(0)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        batches = [train_triples[torch.randint(train_triples.shape[0], (config.batch_size,), generator=generator)]
                   for _ in range(block_size)]
        block = [(pos, negative_pool(pos, graph.num_entities, config, generator)) for pos in batches]
        for name in rotation(round_, names):
            model, optimizers = setups[name]
            for step, (pos, pool) in enumerate(block):
                started = time.perf_counter()
                one_step(model, optimizers, pos, pool, config)
                if step >= 3:
                    times[name].append(time.perf_counter() - started)
    return times


def fastest_tenth(times: list[float]) -> float:
    """The 10th percentile: the steps least disturbed by the rest of the machine."""
    return sorted(times)[len(times) // 10]


def print_table(title: str, columns: str, times: dict[str, list[float]], cells) -> None:
    """The title, the column header and one row per model: its label and ``cells(name, median, ratio to Basic,
    times)``."""
    basic = statistics.median(times["basic"])
    print(f"{title}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'model':34s} {columns}")
    for name, (_, _, label) in MODELS.items():
        if name not in times:
            continue
        median = statistics.median(times[name])
        print(f"{label:34s} {cells(name, median, median / basic, times[name])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="FB15k-237 folder (default: $KGCORE_DATA_DIR/fb15k-237, then the cache)")
    parser.add_argument("--rounds", type=int, default=4, help="blocks per model")
    parser.add_argument("--block", type=int, default=20, help="steps per block (the first 3 of each untimed)")
    parser.add_argument("--dim", type=int, default=int(FISHER2020.model["dim"]))
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated subset (Basic always runs: the ratios are to it)")
    parser.add_argument("--whole-epochs", action="store_true", help="time whole epochs of the training loop")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = set(args.models.split(","))
    if chosen - set(MODELS):
        parser.error(f"unknown model(s) {', '.join(sorted(chosen - set(MODELS)))}; the models: {', '.join(MODELS)}")
    names = ["basic"] + [name for name in MODELS if name != "basic" and name in chosen]
    graph = DataSource(dataset="fb15k237", data_dir=args.data_dir).load()
    before = cpu_counters()
    if args.whole_epochs:
        times = whole_epochs(graph, args.rounds, args.dim, names)

        def round_ratios(name: str) -> str:  # each round's epoch over that round's Basic epoch, their median
            return f"{statistics.median(t / b for t, b in zip(times[name], times['basic'])):7.2f}x"

        print_table(f"fisher2020 preset, d = {args.dim}: whole epochs of the training loop on FB15k-237, "
                    f"{args.rounds} rounds, models in rotating order, {steal_share(before, cpu_counters())}",
                    f"{'s/epoch':>8s} {'x Basic':>8s} {'rounds':>8s}  each round", times,
                    lambda name, epoch, ratio, each: f"{epoch:8.2f} {ratio:7.2f}x {round_ratios(name)}  "
                                                     f"{' '.join(f'{t:.2f}' for t in each)}")
        return
    config = TrainConfig(**{**FISHER2020.train, "epochs": 1})
    steps_per_epoch = -(-graph.splits["train"].shape[0] // config.batch_size)
    times = step_times(graph, config, args.rounds, args.block, args.dim, names)
    basic_fast = fastest_tenth(times["basic"])
    print_table(f"fisher2020 preset, d = {args.dim}, batch {config.batch_size}, {config.num_negatives} shared "
                f"negatives ({config.batch_negatives} from the batch); {args.rounds} interleaved blocks of "
                f"{args.block} steps per model, {steal_share(before, cpu_counters())}",
                f"{'ms/step':>8s} {'x Basic':>8s} {'s/epoch':>8s} {'p10 ms':>8s} {'x Basic':>8s}", times,
                lambda name, step, ratio, each: f"{step * 1e3:8.1f} {ratio:7.2f}x {step * steps_per_epoch:8.1f} "
                                                f"{fastest_tenth(each) * 1e3:8.1f} {fastest_tenth(each) / basic_fast:7.2f}x")


if __name__ == "__main__":
    main()
