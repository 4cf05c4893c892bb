"""The seed's comparison table on FB15k-237: Basic TransE, Bose & Hamilton filters, KL-debiased TransE.

Fisher, Mittal, Palfrey & Christodoulopoulos ("Debiasing knowledge graph embeddings", EMNLP 2020) report
Basic MRR 0.68, gender bias 2.79, 68.4 s/epoch; Bose et al. 0.426, 2.75, 533.3; KL 0.66, 0.19, 89.4. This
script trains the three models with one shared setting and several seeds and prints, as mean +- std over
seeds:

- filtered test MRR over all relations, and on profession prediction only (``evaluate(relation=...)``);
- the aggregate gender bias of ``kgcore.analysis.aggregate_bias`` (mean |B_p^v| over professions and values;
  the paper's own scale differs, so compare models with each other, not with the paper's numbers);
- attribute-leakage ROC-AUC of a cross-validated logistic-regression probe (``kgcore.analysis.probe``; 0.5 = none),
  beside two references: the same probe on each person's other recorded facts (``facts_probe``, no
  embedding), and on Basic TransE trained without the attribute's own triples (model ``blind``,
  ``TrainConfig.withheld_relations``): what the rest of the graph lets an embedding pick up about the
  attribute when the model never sees it;
- the ROC-AUC of the model's own prediction of the attribute from its scores of (person, attribute, value)
  (``prediction_leakage``): what the KL term evens out, where the probe asks any linear reading;
- seconds per epoch (the median epoch of each run), and the Bose/Basic and KL/Basic epoch-time ratios,
  also measured apart (``--timing-rounds``): one epoch of each model in turn, round after round, so the
  machine's speed drifting over the minutes of a run cannot skew the ratios.

It writes ``runs.csv`` (one row per model and seed), ``timing.csv``, ``facts_probe.json``, ``summary.csv``
and ``summary.md`` to ``--out``.
Gender in FB15k-237 is recorded with two values; the bias figures describe what each model associates
with them.

    python bench/compare_models.py --out bench/results/compare [--epochs 50 --seeds 3]
    python bench/compare_models.py --epochs 1 --seeds 1 --eval-max-triples 500 --timing-rounds 1 --out /tmp/check  # smoke
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

from kgcore.analysis.aggregate import aggregate_bias
from kgcore.data.datasets import DataSource
from kgcore.data.locations import DATA_DIR_ENV
from kgcore.training.evaluate import evaluate
from kgcore.models import ModelConfig, build_model
from kgcore.analysis.probe import facts_probe, leakage_probe, prediction_leakage
from kgcore.training.loop import TrainConfig, seed_everything, train
from kgcore.data.whitelist import read_whitelist

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fb15k-237"
MODELS = ("transe", "bose", "kl")
BLIND = "blind"  # reference: Basic TransE trained without the attribute's own triples
LABELS = {"transe": "Basic", "bose": "Bose et al.", "kl": "KL", BLIND: "Basic, attribute withheld (reference)"}
PAPER = {"transe": (0.68, 2.79, 68.4), "bose": (0.426, 2.75, 533.3), "kl": (0.66, 0.19, 89.4)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", help=f"FB15k-237 folder or its parent (default: ${DATA_DIR_ENV}, then "
                        f"{DEFAULT_DATA.parent}, then the kgcore cache)")
    parser.add_argument("--out", required=True, help="folder for runs.csv, summary.csv, summary.md")
    parser.add_argument("--models", default=",".join(MODELS + (BLIND,)),
                        help=f"comma-separated subset of {', '.join(MODELS)} and {BLIND} (Basic TransE without the "
                             "attribute's triples, a leakage reference; not in the timing rounds)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per model")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--margin", type=float, default=1.0)
    parser.add_argument("--attribute", default="gender", help="the sensitive attribute debiased and measured")
    parser.add_argument("--kl-weight", type=float, default=1.0)
    parser.add_argument("--whitelist", help="attribute-embedding whitelist file for the KL model (default: none)")
    parser.add_argument("--bose-option", action="append", default=[], metavar="KEY=VALUE",
                        help="Bose & Hamilton option (gamma, adversary_loss, d_steps, d_lr, sample_mask)")
    parser.add_argument("--probe-folds", type=int, default=5)
    parser.add_argument("--eval-max-triples", type=int, default=None,
                        help="evaluate on a seeded subset of test triples (smoke runs only)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for training, set before every run (1 on a shared machine gives "
                             "steadier epoch times)")
    parser.add_argument("--save-runs", action="store_true", help="also write a run folder per model and seed")
    parser.add_argument("--timing-rounds", type=int, default=10,
                        help="after the runs, rounds of one epoch of each model in turn, for epoch-time ratios "
                             "that a busy spell of the machine cannot skew (0: skip)")
    return parser.parse_args()


def bose_options(items: list[str]) -> dict:
    options: dict = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def model_config(name: str, args: argparse.Namespace) -> ModelConfig:
    name = "transe" if name == BLIND else name
    if name == "kl":
        options = {"kl_weight": {"*": args.kl_weight},
                   "whitelist": read_whitelist(args.whitelist) if args.whitelist else []}
    else:
        options = bose_options(args.bose_option) if name == "bose" else {}
    return ModelConfig(model=name, dim=args.dim, interaction="transe-l1",
                       debias=[] if name == "transe" else [args.attribute], options=options)


def training_config(args: argparse.Namespace, seed: int, epochs: int, withheld: list[str] | None = None) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=args.batch_size, lr=args.lr, optimizer="adam", loss="margin",
                       margin=args.margin, num_negatives=1, seed=seed, withheld_relations=withheld or [])


def run_one(name: str, seed: int, graph, source: DataSource, args: argparse.Namespace, out: Path) -> dict:
    config = model_config(name, args)
    withheld = [graph.spec.attribute(args.attribute).relation] if name == BLIND else []
    train_config = training_config(args, seed, args.epochs, withheld)
    if args.threads:
        # numba's parallel evaluation kernels reset the OpenMP thread count torch uses; set it again.
        torch.set_num_threads(args.threads)
    seed_everything(seed)
    model = build_model(config, graph)
    started = time.perf_counter()
    result = train(model, graph, train_config, progress=False)
    train_seconds = time.perf_counter() - started
    epochs = [r.seconds for r in result.history]
    target = graph.spec.target
    started = time.perf_counter()
    all_rel = evaluate(model, graph, "test", max_triples=args.eval_max_triples, seed=seed)
    profession = evaluate(model, graph, "test", relation=target, max_triples=args.eval_max_triples, seed=seed)
    eval_seconds = time.perf_counter() - started
    bias = aggregate_bias(model, graph, args.attribute, seed=seed)
    probe = leakage_probe(model, graph, args.attribute, folds=args.probe_folds, seed=seed)
    prediction = prediction_leakage(model, graph, args.attribute)
    row = {
        "model": name, "seed": seed,
        "mrr": all_rel["mrr"], "hits@10": all_rel["hits@10"], "profession_mrr": profession["mrr"],
        "gender_bias": bias["bias"], "gender_bias_ci_low": bias["ci_low"], "gender_bias_ci_high": bias["ci_high"],
        "leakage_auc": probe["roc_auc"], "leakage_control_auc": probe.get("control_roc_auc"),
        "prediction_auc": prediction["roc_auc"], "prediction_distance_from_uniform": prediction["distance_from_uniform"],
        "seconds_per_epoch": statistics.median(epochs), "mean_seconds_per_epoch": statistics.fmean(epochs),
        "epochs": len(epochs), "train_seconds": train_seconds, "eval_seconds": eval_seconds,
        "bias_seconds": bias["seconds"], "probe_seconds": probe["seconds"],
        "final_loss": result.history[-1].loss,
        **{f"final_{k}": v for k, v in result.history[-1].extras.items()},
    }
    if args.save_runs:
        from kgcore.runs import save_run

        save_run(out / "runs" / f"{name}-seed{seed}", model, graph, source, train_config, result,
                 {"test": all_rel, "test_profession": profession, "gender_bias": bias, "leakage": probe},
                 overwrite=True)
    return row


def interleaved_epoch_times(names: list[str], graph, args: argparse.Namespace) -> pd.DataFrame:
    """One epoch of each model in turn, ``--timing-rounds`` times (after a warm-up round): each round's
    epochs run within seconds of each other, so their ratio holds even when the machine's speed drifts
    over the minutes a full run takes. Returns one row per round and model."""
    models = {}
    for name in names:
        seed_everything(0)
        models[name] = build_model(model_config(name, args), graph)
    rows = []
    for round_ in range(args.timing_rounds + 1):
        for name in names:
            if args.threads:
                torch.set_num_threads(args.threads)
            result = train(models[name], graph, training_config(args, round_, 1), progress=False)
            seconds = result.history[0].seconds
            if round_ > 0:  # round 0 warms caches and compiled kernels
                rows.append({"round": round_, "model": name, "seconds": seconds})
    return pd.DataFrame(rows)


def timing_lines(timing: pd.DataFrame) -> list[str]:
    """Epoch-time ratios to Basic from the interleaved rounds: ratio of medians, and the median and
    quartiles of the per-round ratios."""
    if timing.empty or "transe" not in set(timing["model"]):
        return []
    wide = timing.pivot(index="round", columns="model", values="seconds")
    rounds = len(wide)
    lines = [f"Epoch time, interleaved ({rounds} rounds of one epoch of each model in turn; median seconds):"]
    for name in [m for m in MODELS if m in wide.columns]:
        median = wide[name].median()
        text = f"- {LABELS[name]}: {median:.3f} s"
        if name != "transe":
            per_round = wide[name] / wide["transe"]
            text += (f", **{median / wide['transe'].median():.2f}x** Basic (per-round ratio median "
                     f"{per_round.median():.2f}, quartiles {per_round.quantile(0.25):.2f}-{per_round.quantile(0.75):.2f}; "
                     f"paper: {PAPER[name][2] / PAPER['transe'][2]:.1f}x)")
        lines.append(text)
    return lines


def mean_std(values: pd.Series, fmt: str) -> str:
    values = values.dropna()
    if values.empty:
        return "n/a"
    if len(values) == 1:
        return format(values.iloc[0], fmt)
    return f"{format(values.mean(), fmt)} ± {format(values.std(ddof=1), fmt)}"


def summarise(runs: pd.DataFrame, args: argparse.Namespace, wall: float,
              timing: pd.DataFrame | None = None, facts: dict | None = None) -> tuple[pd.DataFrame, str]:
    metrics = [("mrr", "Test MRR", ".3f"), ("profession_mrr", "Profession MRR", ".3f"),
               ("gender_bias", "Gender bias", ".3g"), ("leakage_auc", "Leakage AUC", ".3f"),
               ("prediction_auc", "Own-prediction AUC", ".3f"), ("seconds_per_epoch", "s/epoch", ".2f")]
    rows = []
    for name in [m for m in MODELS + (BLIND,) if m in set(runs["model"])]:
        part = runs[runs["model"] == name]
        label = f"Basic, {args.attribute} triples withheld (reference)" if name == BLIND else LABELS[name]
        row = {"model": label, "seeds": len(part)}
        for key, label, fmt in metrics:
            row[label] = mean_std(part[key], fmt)
            row[f"{key}_mean"] = part[key].mean()
            row[f"{key}_std"] = part[key].std(ddof=1) if len(part) > 1 else 0.0
        rows.append(row)
    summary = pd.DataFrame(rows)
    basic = runs[runs["model"] == "transe"].set_index("seed")["seconds_per_epoch"]
    ratios = []
    for name in ("bose", "kl"):
        part = runs[runs["model"] == name].set_index("seed")["seconds_per_epoch"]
        if len(part) and len(basic):
            per_seed = (part / basic).dropna()
            ratios.append(f"- {LABELS[name]} / Basic epoch time, from the runs' median epochs: "
                          f"{part.mean() / basic.mean():.2f}x (per seed {mean_std(per_seed, '.2f')}; paper: "
                          f"{PAPER[name][2] / PAPER['transe'][2]:.1f}x)")
    if timing is not None and not timing.empty:
        ratios += [""] + timing_lines(timing)
    if facts is not None:
        ratios += ["", f"Reference for the leakage AUC: the same probe on each person's other recorded facts in "
                   f"the training graph ({facts['facts']:,} (relation, entity) facts, no embedding, "
                   f"{args.attribute}'s own triples left out) reaches **{facts['roc_auc']:.3f}** "
                   f"(shuffled labels: {facts['control_roc_auc']:.3f}): the rest of this graph records "
                   f"{args.attribute} in other forms, so an embedding that keeps those facts predictable "
                   "keeps it readable."]
    if BLIND in set(runs["model"]):
        blind = runs[runs["model"] == BLIND]["leakage_auc"]
        ratios += ["", f"Attribute-blind reference: Basic TransE trained with every {args.attribute} triple withheld "
                   f"(it never sees anyone's {args.attribute}) still leaks **{mean_std(blind, '.3f')}**: what the "
                   f"rest of the graph lets an embedding pick up. A debiasing method that keeps the other facts "
                   f"predictable removes what the {args.attribute} triples add, down to about this line; below it, "
                   "it also hides what the other facts imply."]
    labels = ["model", "seeds"] + [label for _, label, _ in metrics]
    table = summary[labels]
    lines = ["| " + " | ".join(labels) + " |", "|" + "---|" * len(labels)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    paper = ["| model | Test MRR | Gender bias | s/epoch |", "|---|---|---|---|"]
    paper += [f"| {LABELS[m]} | {PAPER[m][0]} | {PAPER[m][1]} | {PAPER[m][2]} |" for m in MODELS]
    markdown = "\n".join([
        f"# Basic vs Bose et al. vs KL on FB15k-237 ({args.attribute})", "",
        f"Setting: TransE L1, dim {args.dim}, batch {args.batch_size}, Adam lr {args.lr}, margin {args.margin}, "
        f"1 negative, {args.epochs} epochs; KL weight {args.kl_weight}"
        + (f", whitelist {args.whitelist}" if args.whitelist else ", no whitelist")
        + (f"; Bose options {bose_options(args.bose_option)}" if args.bose_option else "; Bose defaults")
        + f"; seeds {sorted(set(runs['seed']))}. Mean ± std over seeds.", "",
        *lines, "", *ratios, "",
        f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s); total wall time {wall / 60:.1f} min.", "",
        "Gender bias: mean |B_p^v| over professions and both recorded gender values "
        "(`kgcore.analysis.aggregate_bias`); its scale is not the paper's. Leakage AUC: 5-fold logistic-regression "
        "probe of gender from the vectors each model scores (0.5 = nothing recoverable). Own-prediction AUC: "
        "the model's own P(gender | person) from its scores of (person, gender, value) "
        "(`kgcore.analysis.probe.prediction_leakage`; what the KL term evens out). s/epoch: median epoch.",
        "", "The paper's table (Fisher et al. 2020), for reference:", "", *paper, "",
    ])
    return summary, markdown


def main() -> int:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = args.data_dir
    if data_dir is None and not os.environ.get(DATA_DIR_ENV) and DEFAULT_DATA.exists():
        data_dir = str(DEFAULT_DATA)
    source = DataSource(dataset="fb15k237", data_dir=data_dir)
    graph = source.load()
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(names) - set(MODELS + (BLIND,)))
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; choose from {MODELS + (BLIND,)}")
    started = time.perf_counter()
    rows = []
    for seed in range(args.seeds):
        for name in names:  # interleaved, so a busy spell of the machine hits every model alike
            row = run_one(name, seed, graph, source, args, out)
            rows.append(row)
            print(json.dumps({k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
            pd.DataFrame(rows).to_csv(out / "runs.csv", index=False)
    timed = [name for name in names if name != BLIND]
    timing = interleaved_epoch_times(timed, graph, args) if args.timing_rounds > 0 and timed else pd.DataFrame()
    if not timing.empty:
        timing.to_csv(out / "timing.csv", index=False)
    wall = time.perf_counter() - started
    facts = facts_probe(graph, args.attribute, folds=args.probe_folds, seed=0)
    (out / "facts_probe.json").write_text(json.dumps(facts, indent=2), encoding="utf-8")
    summary, markdown = summarise(pd.DataFrame(rows), args, wall, timing, facts)
    summary.to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
