"""Bias of a synthetic graph of millions of people measured in bounded memory (``kgcore.analysis.streaming``).

The embeddings are written as PyTorch-BigGraph writes a checkpoint (``embeddings_all_<part>.v1.h5``, dataset
``embeddings``, float32): partition 0 holds the people, partition 1 the two gender values and the
professions. The relations are PBG's translation operator with dynamic relations (kgcore's
``transe-dot-reciprocal``). The writing runs in a child process; this process then measures B_p for both
values, streaming people in chunks from the HDF5 file, and reports its peak resident memory (ru_maxrss,
the whole process: Python, torch and the chunk buffers) and the time per million people.

For TransE with the dot product one step gives B_p = alpha * <e_a - e_b, e_p> for every person, so the
streamed result is also checked against that closed form.

    python bench/scale_measure.py --people 2000000 --dim 200 --json bench/results/scale_measure.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEED = 0


def write_checkpoint(folder: Path, people: int, dim: int, professions: int, chunk: int) -> None:
    """The synthetic checkpoint, written chunk by chunk (seeded)."""
    import h5py

    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / "embeddings_all_0.v1.h5", "w") as handle:
        data = handle.create_dataset("embeddings", shape=(people, dim), dtype="float32")
        for lo in range(0, people, chunk):
            hi = min(lo + chunk, people)
            data[lo:hi] = rng.normal(scale=0.1, size=(hi - lo, dim)).astype(np.float32)
    with h5py.File(folder / "embeddings_all_1.v1.h5", "w") as handle:
        handle.create_dataset("embeddings", data=rng.normal(scale=0.1, size=(2 + professions, dim)).astype(np.float32))
    relations = rng.normal(scale=0.1, size=(2, 2 * dim)).astype(np.float32)  # gender, profession: [lhs, rhs]
    np.save(folder / "relations.npy", relations)


def measure(folder: Path, chunk: int, progress: bool) -> dict:
    import h5py
    import torch

    from kgcore.analysis.streaming import measured_table, stream_bias
    from kgcore.models import KGEModel, ModelConfig

    torch.manual_seed(SEED)
    with h5py.File(folder / "embeddings_all_1.v1.h5", "r") as handle:
        small = torch.from_numpy(handle["embeddings"][...])
    relations = torch.from_numpy(np.load(folder / "relations.npy"))
    dim = small.shape[1]
    config = ModelConfig(model="transe", dim=dim, interaction="transe-dot-reciprocal", entity_norm=False)
    model = KGEModel(small.shape[0], 2, config)  # only the values and professions: people are streamed
    with torch.no_grad():
        model.entity.weight.copy_(small)
        model.relation.weight.copy_(relations)
    gender = measured_table("gender", 0, torch.tensor([0, 1]))
    profession = measured_table("profession", 1, torch.arange(2, small.shape[0]))
    with h5py.File(folder / "embeddings_all_0.v1.h5", "r") as handle:
        result = stream_bias(model, handle["embeddings"], gender, profession, steps=1, step_size=0.01,
                             chunk_size=chunk, progress=progress)
    closed = 0.01 * (small[2:] @ (small[0] - small[1])).double().numpy()  # alpha <e_a - e_b, e_p>
    deviation = float(np.abs(result.score_change[:, 0] - closed).max())
    return {"people": result.people, "seconds": result.seconds, "chunks": result.chunks,
            "seconds_per_million_people": result.seconds / (result.people / 1e6),
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "closed_form_max_abs_deviation": deviation,
            "closed_form_max_abs_B": float(np.abs(closed).max())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2_000_000)
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--professions", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=65536, help="people per chunk")
    parser.add_argument("--work", type=Path, help="folder for the checkpoint (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the result here too")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_only:
        write_checkpoint(args.work, args.people, args.dim, args.professions, args.chunk)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--write-only", "--work", str(work), "--people", str(args.people),
                        "--dim", str(args.dim), "--professions", str(args.professions), "--chunk", str(args.chunk)],
                       check=True)
        write_seconds = time.perf_counter() - started
        size = (work / "embeddings_all_0.v1.h5").stat().st_size
        result = measure(work, args.chunk, args.progress)
    result.update({"dim": args.dim, "professions": args.professions, "chunk": args.chunk,
                   "people_file_mb": size / 2**20, "write_seconds": write_seconds,
                   "load_average": os.getloadavg(), "cpus": os.cpu_count(), "python": platform.python_version()})
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
