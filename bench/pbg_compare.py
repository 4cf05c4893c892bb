"""kgcore's ``--preset fisher2020`` beside PyTorch-BigGraph (PBG), the engine the Fisher et al. papers trained
with, on FB15k-237: seconds per epoch, their ratio (PBG / kgcore), and filtered test MRR at equal epochs.

One invocation (driven from kgcore's venv) does, per round:

* PBG (in its own venv, as a subprocess of this same file): FB15k-237 converted once with PBG's own
  ``convert_input_data`` (what ``torchbiggraph_import_from_tsv`` runs) into a temporary folder; one
  entity type with 1 partition, 1 machine, ``workers`` = the cores; TransE with dot product
  (``operator: translation``, ``comparator: dot``), ``dimension: 200``, ``loss_fn: softmax``,
  ``num_uniform_negs: 750``, ``num_batch_negs: 250`` (the preset's 1000 negatives, 250 from the batch;
  ``--batch-negatives`` sets both engines), ``batch_size: 1000``, ``lr: 0.1`` (PBG's Adagrad),
  ``global_emb: false``, ``eval_fraction: 0`` (PBG's default withholds 5 % of the training edges),
  no ``max_norm``. Each epoch is timed from PBG's "Starting epoch" log line to the end of its training
  pass (edge loading included, checkpoint writing not); the final embeddings are exported and ranked
  by kgcore's own filtered evaluation (``kgcore.training.evaluate``: same filter of train+valid+test,
  same tie rule, same triples), so both engines' MRRs come from one protocol.
* kgcore: ``KGCORE_DATA_DIR=<data dir> python -m kgcore train --dataset fb15k237 --preset fisher2020
  --epochs N`` (a subprocess of kgcore's venv; ``--dataset`` and ``--data-dir`` exclude each other); seconds per epoch from the run's ``history.csv``, test MRR from ``metrics.json``.

The MRR compared is the preset's: test triples of the sensitive relations (gender, religion, ethnicity,
nationality) left out (``--without-sensitive``, the papers' "(filtered)" datasets; 19,158 of 20,466 test
triples); the full test set's MRR is printed too, for both engines, by the same evaluation. Rounds
alternate the order of the two engines (PBG first in odd rounds), since the machine is shared; the
summary gives the median over all timed epochs of all rounds and the median of the per-round ratios
(each a back-to-back pair), and every engine run's load average is printed beside it: on 2 shared cores
the ratio depends on the load more than on anything else (bench/results/pbg_compare*.txt).

What cannot be matched (PBG 1.0.0 has no option for it), printed with the results:

* warm-up: the preset (and the paper, Sec. 5.2) warms the learning rate up linearly over the first
  epoch; PBG's config has no warm-up or schedule option (``lr`` and ``relation_lr`` only). Pass
  ``--kgcore-flag=--warmup-epochs --kgcore-flag=0`` to drop kgcore's warm-up for an exact match.
* relation vectors: PBG's dynamic-relation mode (the only one its filtered evaluator supports, and its
  own FB15k example's) learns two translations per relation, <h + r_lhs, t'> for corrupted tails and
  <h', t + r_rhs> for corrupted heads; the preset has the paper's one (eq. 1).
  ``--kgcore-flag=--interaction --kgcore-flag=transe-dot-reciprocal`` matches PBG's.
* negatives: PBG draws its uniform heads and, separately, uniform tails per batch chunk, takes its batch
  negatives from the other positives' heads (or tails) in the chunk, and sums two softmax losses
  (positive vs heads, positive vs tails); kgcore draws one pool, its batch share half heads and half
  tails of the batch, scored as heads and as tails, also in two softmaxes (averaged, which AdaGrad's
  scaling makes equivalent to a sum). Neither excludes a negative that happens to equal the positive.
* optimiser: PBG updates entity rows with its RowAdagrad (one accumulator per row, the mean squared
  gradient); kgcore's Adagrad keeps one accumulator per coordinate. Relations: plain Adagrad in both.
* initialisation: matched (entities N(0, 1e-3^2), translations 0).
* parallelism: PBG runs ``workers`` Hogwild! processes of one thread each (and delays all but the first
  by ``hogwild_delay`` = 2 s in its first epoch); kgcore runs one process with torch/numba threads.

Set-up (PBG in its own venv outside the repository; the steps that worked, Python 3.11)::

    python3.11 -m venv /work/pbg-venv
    /work/pbg-venv/bin/pip install torch==2.13.0          # the CPU build already on this machine
    /work/pbg-venv/bin/pip install -r bench/requirements-pbg.txt
    # = "setuptools>=77.0.3,<81" torchbiggraph==1.0.0: PBG imports pkg_resources (gone in setuptools 81),
    # torch 2.13 requires setuptools>=77.0.3. "setuptools<70" makes pip replace torch 2.13 (CPU) by
    # torch 2.12.1 with CUDA (several GB).

Usage (kgcore's venv; ``--pbg-python`` or $PBG_PYTHON points at the PBG venv's python)::

    python bench/pbg_compare.py --epochs 3 --rounds 2 | tee bench/results/pbg_compare.txt
    python bench/pbg_compare.py --epochs 50 --rounds 1 --json bench/results/pbg_compare_50.json
    python bench/pbg_compare.py --epochs 1 --pbg-own-eval   # also PBG's own filtered eval, full test
    python bench/pbg_compare.py --report bench/results/pbg_compare.json   # re-print a saved run

``--pbg-own-eval`` runs PBG's ``FilteredRankingEvaluator`` on the full test set as a check of the
exported scoring (PBG counts ties against the positive; kgcore counts half of them).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path("/work/shared/data/fb15k-237")
if not DEFAULT_DATA.is_dir():
    DEFAULT_DATA = REPO.parent / "shared" / "data" / "fb15k-237"
DEFAULT_PBG_PYTHON = os.environ.get("PBG_PYTHON", "/work/pbg-venv/bin/python")
SPLITS = ("train", "valid", "test")


def preset_negatives() -> tuple[int, int]:
    """The preset's shared negatives per batch, and how many of them come from the batch."""
    sys.path.insert(0, str(REPO))
    from kgcore.training.presets import FISHER2020

    return int(FISHER2020.train["num_negatives"]), int(FISHER2020.train.get("batch_negatives", 0))


NEGATIVES, BATCH_NEGATIVES = preset_negatives()


# --------------------------------------------------------------------------------------------------
# Driver: runs in kgcore's venv.
# --------------------------------------------------------------------------------------------------

def run_pbg(args, work: Path, round_no: int) -> dict:
    checkpoint = work / f"checkpoint_round{round_no}"
    export = work / f"export_round{round_no}.pt"
    command = [args.pbg_python, str(Path(__file__).resolve().with_name("pbg_timed_worker.py")), "--work", str(work),
               "--data-dir", str(args.data_dir), "--checkpoint", str(checkpoint), "--epochs", str(args.epochs),
               "--workers", str(args.workers), "--hogwild-delay", str(args.hogwild_delay),
               "--seed", str(args.seed + round_no), "--export", str(export),
               "--uniform-negs", str(NEGATIVES - args.batch_negatives), "--batch-negs", str(args.batch_negatives)]
    if args.pbg_own_eval:
        command.append("--own-eval")
    log = work / f"pbg_round{round_no}.log"
    started = time.perf_counter()
    with log.open("w") as err:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, text=True, cwd=work)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"PBG failed (exit {done.returncode}); its log: {log}\n" + log.read_text()[-4000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = wall
    result["export"] = str(export)
    return result


def run_kgcore(args, work: Path, round_no: int) -> dict:
    import pandas as pd

    out = work / f"kgcore_round{round_no}"
    command = [sys.executable, "-m", "kgcore", "train", "--dataset", "fb15k237", "--preset", "fisher2020", "--epochs", str(args.epochs), "--seed", str(args.seed + round_no),
               "--batch-negatives", str(args.batch_negatives), "--device", "cpu", "--out", str(out), "--overwrite",
               "--quiet", *args.kgcore_flag]
    log = work / f"kgcore_round{round_no}.log"
    started = time.perf_counter()
    with log.open("w") as err:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO), "KGCORE_DATA_DIR": str(args.data_dir)})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kgcore failed (exit {done.returncode}); its log: {log}\n" + log.read_text()[-4000:])
    history = pd.read_csv(out / "history.csv")
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    return {"epochs": [{"seconds": float(s), "loss": float(l)} for s, l in zip(history["seconds"], history["loss"])],
            "test": metrics["test"], "wall_seconds": wall, "run": str(out), "command": command[1:],
            "train_config": config["train"], "model_config": config["model"]}


def pbg_model(export: dict, graph):
    """PBG's exported TransE-dot embeddings, in kgcore's ids, behind the two calls kgcore's ranking makes."""
    import torch

    index = {name: i for i, name in enumerate(export["entity_names"])}
    rel_index = {name: i for i, name in enumerate(export["relation_names"])}
    missing = [e for e in graph.entities if e not in index]
    if missing:
        raise SystemExit(f"PBG has no embedding for {len(missing)} entities, e.g. {missing[:3]}")

    class PBGTransEDot(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            ent = export["entities"][torch.tensor([index[e] for e in graph.entities])]
            rel = torch.tensor([rel_index[r] for r in graph.relations])
            self.entity = torch.nn.Parameter(ent.float(), requires_grad=False)
            # Dynamic relations: tails are ranked by <h + r_lhs, t'> (the lhs operator on the head), heads by
            # <h', t + r_rhs> (the rhs operator on the tail); see MultiRelationEmbedder.forward.
            self.lhs = torch.nn.Parameter(export["lhs_translations"][rel].float(), requires_grad=False)
            self.rhs = torch.nn.Parameter(export["rhs_translations"][rel].float(), requires_grad=False)

        def score_tails(self, h, r):
            return (self.entity[h] + self.lhs[r]) @ self.entity.T

        def score_heads(self, r, t):
            return (self.entity[t] + self.rhs[r]) @ self.entity.T

    return PBGTransEDot()


def evaluate_all(graph, model) -> dict:
    from kgcore.training.evaluate import evaluate

    out = {}
    for name, without in (("without_sensitive", True), ("full", False)):
        started = time.perf_counter()
        metrics = evaluate(model, graph, "test", without_sensitive=without)
        out[name] = {k: metrics[k] for k in ("mrr", "hits@1", "hits@10", "count")}
        out[name]["seconds"] = time.perf_counter() - started
    return out


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(args, rounds: list[dict], meta: dict) -> str:
    lines = []
    add = lines.append
    add(f"kgcore --preset fisher2020 vs PyTorch-BigGraph {meta['pbg_version']} on FB15k-237: {args.epochs} epoch(s) "
        f"per run, {len(rounds)} round(s), engines alternated")
    add(f"date {meta['date']}; host {meta['host']}; {meta['cpus']} CPUs (shared with other jobs: expect noise); "
        f"load average before {meta['load_before']}, after {meta['load_after']}")
    add(f"python {meta['python']}; torch {meta['torch']} (both venvs); PBG workers = {args.workers}; "
        f"kgcore flags: --preset fisher2020 {' '.join(args.kgcore_flag)}".rstrip())
    add("")
    add("per round (seconds of each epoch; MRR = filtered test MRR without the sensitive relations' triples; loss: PBG's")
    add("is the sum of two softmax losses per edge, kgcore's their mean per positive, so they do not compare)")
    for r in rounds:
        for engine in r["order"]:
            e = r[engine]
            secs = ", ".join(f"{x['seconds']:.1f}" for x in e["epochs"])
            load = f"; load {e['load_before']}" if e.get("load_before") else ""
            add(f"  round {r['round']} {engine:6s}: epochs [{secs}] s, median {median([x['seconds'] for x in e['epochs']]):.1f}"
                f" s; MRR {e['eval']['without_sensitive']['mrr']:.4f} (all test {e['eval']['full']['mrr']:.4f});"
                f" last-epoch loss {e['epochs'][-1]['loss']:.4g}; wall {e['wall_seconds']:.0f} s{load}")
        pbg_med = median([x["seconds"] for x in r["pbg"]["epochs"]])
        kg_med = median([x["seconds"] for x in r["kgcore"]["epochs"]])
        add(f"  round {r['round']} PBG/kgcore (medians, back-to-back runs): {pbg_med / kg_med:.2f}")
    pbg_s = [x["seconds"] for r in rounds for x in r["pbg"]["epochs"]]
    kg_s = [x["seconds"] for r in rounds for x in r["kgcore"]["epochs"]]
    pbg_mrr = [r["pbg"]["eval"]["without_sensitive"]["mrr"] for r in rounds]
    kg_mrr = [r["kgcore"]["eval"]["without_sensitive"]["mrr"] for r in rounds]
    pbg_full = [r["pbg"]["eval"]["full"]["mrr"] for r in rounds]
    kg_full = [r["kgcore"]["eval"]["full"]["mrr"] for r in rounds]
    pbg_h10 = [r["pbg"]["eval"]["without_sensitive"]["hits@10"] for r in rounds]
    kg_h10 = [r["kgcore"]["eval"]["without_sensitive"]["hits@10"] for r in rounds]
    count = rounds[0]["kgcore"]["eval"]["without_sensitive"]["count"] // 2
    full_count = rounds[0]["kgcore"]["eval"]["full"]["count"] // 2
    add("")
    add(f"summary (medians over all {len(pbg_s)} timed epochs / {len(rounds)} run(s) per engine)")
    add(f"  {'':40s}{'PBG':>10s}{'kgcore':>10s}{'PBG/kgcore':>12s}")
    add(f"  {'seconds per epoch':40s}{median(pbg_s):10.1f}{median(kg_s):10.1f}{median(pbg_s) / median(kg_s):12.2f}")
    if len(pbg_s) > len(rounds):
        p2 = [x["seconds"] for r in rounds for x in r["pbg"]["epochs"][1:]]
        k2 = [x["seconds"] for r in rounds for x in r["kgcore"]["epochs"][1:]]
        add(f"  {'  same, epoch 1 left out':40s}{median(p2):10.1f}{median(k2):10.1f}{median(p2) / median(k2):12.2f}")
    paired = [median([x["seconds"] for x in r["pbg"]["epochs"]]) / median([x["seconds"] for x in r["kgcore"]["epochs"]])
              for r in rounds]
    add(f"  {'per-round ratio, median of rounds':40s}{'':20s}{median(paired):12.2f}")
    add(f"  {f'test MRR, {args.epochs} ep, no sensitive ({count})':40s}{median(pbg_mrr):10.4f}{median(kg_mrr):10.4f}")
    add(f"  {f'test Hits@10, same triples':40s}{median(pbg_h10):10.4f}{median(kg_h10):10.4f}")
    add(f"  {f'test MRR, {args.epochs} ep, all test ({full_count})':40s}{median(pbg_full):10.4f}{median(kg_full):10.4f}")
    own = [r["pbg"].get("own_eval") for r in rounds if r["pbg"].get("own_eval")]
    if own:
        add(f"  PBG's own FilteredRankingEvaluator, all test: MRR {median([o['mrr'] for o in own]):.4f} "
            f"(ties counted against the positive; {own[0]['seconds']:.0f} s)")
    add("")
    batch_negatives = getattr(args, "batch_negatives", 0)  # saved runs before the option drew none
    add(f"settings: both TransE with dot product, d 200, softmax over {NEGATIVES} negatives ({batch_negatives} from the "
        f"batch) shared by a batch of 1000,")
    add("Adagrad lr 0.1, entities unconstrained; ranking of both by kgcore.training.evaluate (filtered with train+valid+test,")
    add("ties counted half). Not matched (PBG 1.0.0 has no such option or does it differently):")
    warmup = rounds[0]["kgcore"]["train_config"].get("warmup_epochs")
    if warmup:
        add(f"  - warm-up: kgcore's lr rises linearly over the first {warmup:g} epoch(s) (the paper's Sec. 5.2); PBG has none.")
    else:
        add("  - warm-up: none in either (kgcore's dropped with --warmup-epochs 0; the paper has one, PBG cannot).")
    add(f"  - negatives: PBG {NEGATIVES} heads + another {NEGATIVES} tails per batch, its batch negatives from one side;")
    add(f"    kgcore one pool of {NEGATIVES} as heads and as tails, its batch share half heads, half tails (both: a softmax per side).")
    reciprocal = "transe-dot-reciprocal" in rounds[0]["kgcore"]["model_config"].get("interaction", "")
    add("  - relations: a head-side and a tail-side translation each in both (kgcore --interaction transe-dot-reciprocal)."
        if reciprocal else "  - relations: PBG a head-side and a tail-side translation each; kgcore one (the paper's eq. 1).")
    add("  - optimiser: PBG's RowAdagrad (one accumulator per entity row) vs kgcore's per-coordinate Adagrad.")
    add("  - init: the same (PBG N(0, 1e-3) entities, zero translations; kgcore does so for TransE with dot product).")
    add(f"  - parallelism: PBG {args.workers} Hogwild! processes x 1 thread (first epoch: others start "
        f"{args.hogwild_delay:g} s late); kgcore 1 process, {meta['kgcore_threads']} torch threads + numba kernels.")
    add("  - timing: PBG epoch = its 'Starting epoch' log line to the end of the training pass (edge loading in,")
    add("    checkpoint writing out); kgcore epoch = history.csv 'seconds' (training loop only).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each engine, alternating which goes first")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pbg-python", default=DEFAULT_PBG_PYTHON, help="python of the venv holding torchbiggraph")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="PBG Hogwild! workers")
    parser.add_argument("--hogwild-delay", type=float, default=2.0, help="PBG's hogwild_delay (its default)")
    parser.add_argument("--kgcore-flag", action="append", default=[], metavar="FLAG",
                        help="extra flag for `kgcore train` (repeat; e.g. --kgcore-flag=--warmup-epochs --kgcore-flag=0)")
    parser.add_argument("--batch-negatives", type=int, default=BATCH_NEGATIVES,
                        help=f"of the {NEGATIVES} negatives, how many both engines take from the batch "
                             "(the preset's by default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pbg-own-eval", action="store_true", help="also run PBG's own filtered evaluator")
    parser.add_argument("--work-dir", type=Path, help="keep the converted data, checkpoints and runs here "
                                                       "(default: a temporary folder, removed at the end)")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    parser.add_argument("--report", type=Path, metavar="JSON", help="only print the report of a saved --json file")
    args = parser.parse_args(argv)
    if args.report:
        saved = json.loads(args.report.read_text())
        print(report(argparse.Namespace(**saved["args"]), saved["rounds"], saved["meta"]))
        return 0
    if args.epochs < 1 or args.rounds < 1:
        parser.error("--epochs and --rounds must be at least 1")
    if not (args.data_dir / "train.txt").is_file():
        parser.error(f"no FB15k-237 at {args.data_dir} (train/valid/test.txt)")
    if not Path(args.pbg_python).exists():
        parser.error(f"no PBG python at {args.pbg_python}; see the set-up in this script's docstring")

    sys.path.insert(0, str(REPO))
    import torch

    from kgcore.data.datasets import DataSource
    from kgcore.runs import load_run

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="pbg_compare_"))
    work.mkdir(parents=True, exist_ok=True)
    graph = DataSource(dataset="fb15k237", data_dir=str(args.data_dir)).load()
    meta = {"date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"), "host": platform.node(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "kgcore_threads": torch.get_num_threads(),
            "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    rounds = []
    try:
        for round_no in range(1, args.rounds + 1):
            order = ("pbg", "kgcore") if round_no % 2 else ("kgcore", "pbg")
            record: dict = {"round": round_no, "order": order}
            for engine in order:
                print(f"[round {round_no}] {engine}: {args.epochs} epoch(s) ...", file=sys.stderr, flush=True)
                load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
                if engine == "pbg":
                    result = run_pbg(args, work, round_no)
                    export = torch.load(result.pop("export"), weights_only=True)
                    result["eval"] = evaluate_all(graph, pbg_model(export, graph))
                else:
                    result = run_kgcore(args, work, round_no)
                    loaded = load_run(result["run"], graph=graph)
                    result["eval"] = evaluate_all(graph, loaded.model)
                    # The run's own metrics.json (written by `kgcore train`) and this evaluation must agree.
                    result["eval"]["metrics_json_mrr"] = result["test"]["mrr"]
                result["load_before"] = load_before
                record[engine] = result
                if args.json:  # partial results survive a run killed later
                    write_json(args.json, args, meta, rounds + [record])
            rounds.append(record)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    meta["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    meta["pbg_version"] = rounds[0]["pbg"].get("pbg_version")
    text = report(args, rounds, meta)
    print(text)
    if args.json:
        write_json(args.json, args, meta, rounds)
    return 0


def write_json(path: Path, args, meta: dict, rounds: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                                "meta": meta, "rounds": rounds}, indent=2, default=str))


if __name__ == "__main__":
    raise SystemExit(main())
