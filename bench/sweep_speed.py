"""A w_KL sweep (4 weights x 3 seeds, the KL model removing gender on the demo world) run twice with
``python -m kgcore sweep``: through a local Ray of 2 workers of one core each, and one run after another at one
core (``--executor local --cpus-per-run 1``). Reports both wall times (Ray's start and its per-task overhead
included, as measured, not assumed), their ratio, the summed training time of the runs of each, the machine's
load average around each, and whether both gave the same numbers (the runs are seeded).

Three settings: ``preset``, the README's sweep as a user types it, in the paper's own setting for its w_KL
sweep (``--preset fisher2020``, also the dashboard's Train default); ``defaults``, ``train``'s defaults
(d = 100, 50 epochs, about 7 s a run); and ``short`` (d = 16, 2 epochs), where the runs are so small that
Ray's fixed cost weighs most.
Results are appended to the output file.

    python bench/sweep_speed.py [--setting preset|defaults|short|all] [--out bench/results/sweep_speed.txt]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

WEIGHTS = "gender=0,1,10,100"
SEEDS = "0,1,2"


SETTINGS = {"preset": ["--preset", "fisher2020"], "defaults": [], "short": ["--dim", "16", "--epochs", "2"]}
DESCRIBED = {"preset": "--preset fisher2020, the README's command", "defaults": "train's defaults (d = 100, 50 epochs)",
             "short": "--dim 16 --epochs 2"}


def sweep(out: Path, executor: list[str], setting: list[str]) -> tuple[float, tuple[float, ...], pd.DataFrame]:
    command = [sys.executable, "-m", "kgcore", "sweep", "--dataset", "demo", "--model", "kl", "--debias", "gender",
               *setting, "--device", "cpu", "--grid", f"kl-weight={WEIGHTS}",
               "--seeds", SEEDS, "--out", str(out), "--quiet", *executor]
    load = os.getloadavg()
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    return time.perf_counter() - started, load, pd.read_csv(out / "summary.csv")


OVERHEAD = """
import os, time
os.environ.setdefault("RAY_worker_niceness", "0")
started = time.perf_counter()
import ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
up = time.perf_counter()

@ray.remote(num_cpus=1)
def ready():
    import kgcore.sweep_run  # noqa: F401 - what a sweep's task imports before its first run
    import torch  # noqa: F401
    return os.getpid()

ray.get([ready.remote() for _ in range(2)])
warm = time.perf_counter()
ray.get([ready.remote() for _ in range(2)])
print(f"{up - started:.1f} {warm - up:.1f} {time.perf_counter() - warm:.2f}")
ray.shutdown()
"""


SPIN = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(20_000_000):\n    x += i\nprint(time.perf_counter() - t)"


def parallel_headroom() -> float:
    """How much longer two single-threaded CPU-bound processes at once take than one alone: 1.0 where two
    cores are free, 2.0 where the machine gives this work one core's worth whatever the process count."""
    alone = float(subprocess.run([sys.executable, "-c", SPIN], check=True, capture_output=True, text=True).stdout)
    pair = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    together = max(float(p.communicate()[0]) for p in pair)
    return together / alone


def ray_overhead() -> list[float]:
    """Seconds to start a local Ray, to get two workers ready (kgcore and torch imported), and of a round
    trip of two tasks on ready workers."""
    done = subprocess.run([sys.executable, "-c", OVERHEAD], check=True, capture_output=True, text=True,
                          env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    return [float(x) for x in done.stdout.split()[-3:]]


def compare(setting: str) -> list[str]:
    """One setting's sweep through Ray and one run after another, in that order: the report's lines."""
    flags = SETTINGS[setting]
    with tempfile.TemporaryDirectory(prefix="kgcore-sweep-speed-") as folder:
        ray_wall, ray_load, ray_table = sweep(Path(folder) / "ray", ["--executor", "ray", "--workers", "2",
                                                                     "--cpus-per-run", "1"], flags)
        seq_wall, seq_load, seq_table = sweep(Path(folder) / "local", ["--executor", "local", "--cpus-per-run", "1"],
                                              flags)
    same = all((ray_table[c] - seq_table[c]).abs().max() < 1e-6 for c in ("valid_mrr", "test_mrr", "gender_difference"))
    return [
        f"[{setting}] w_KL sweep: KL model, debias gender, kl-weight {WEIGHTS} x seeds {SEEDS} = {len(seq_table)} "
        f"runs on the demo world, {DESCRIBED[setting]}; valid + test evaluation and residual measures per run",
        f"load average (1, 5, 15 min) before Ray {tuple(round(x, 2) for x in ray_load)}, before sequential "
        f"{tuple(round(x, 2) for x in seq_load)}",
        f"local Ray, 2 workers x 1 core: {ray_wall:.1f} s wall (runs' training summed: "
        f"{ray_table['train_seconds'].sum():.1f} s; all {set(ray_table['status'])})",
        f"sequential, 1 core:             {seq_wall:.1f} s wall (runs' training summed: "
        f"{seq_table['train_seconds'].sum():.1f} s; all {set(seq_table['status'])})",
        f"ratio Ray / sequential: {ray_wall / seq_wall:.2f}x (target <= 0.6x)",
        f"same numbers on both (seeded runs): {same}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=[*SETTINGS, "all"], default="all")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "sweep_speed.txt"))
    args = parser.parse_args()
    lines = [f"# {time.strftime('%Y-%m-%d %H:%M')}; machine: {os.cpu_count()} cores"]
    for setting in (SETTINGS if args.setting == "all" else [args.setting]):
        lines += compare(setting)
    overhead = ray_overhead()
    headroom = parallel_headroom()
    lines += [
        f"Ray's fixed cost, measured apart: start {overhead[0]:.1f} s, two workers ready (kgcore + torch imported) "
        f"{overhead[1]:.1f} s, a round trip of two tasks on ready workers {overhead[2]:.2f} s",
        f"parallel headroom now: two CPU-bound single-threaded processes at once take {headroom:.2f}x as long as one "
        "alone (1.0: two free cores; 2.0: one core's worth, no parallel gain possible)",
        f"load average after: {tuple(round(x, 2) for x in os.getloadavg())}",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
