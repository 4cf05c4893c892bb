"""Reproduce the debiasing paper's own tables (Fisher et al., EMNLP 2020, Tables 3-6 and Figure 5) on
FB15k-237 in the papers' preset, beside the published FB15K figures.

Trains Basic, Bose & Hamilton [s] (one filter) and [a] (all filters), KL and KL + attribute vectors (the
shipped hand-labelled FB15k-237 whitelist), debiasing all four attributes (gender, religion, ethnicity,
nationality) as the paper does, for each seed; evaluates link prediction without the sensitive relations'
triples (the paper's "(filtered)" datasets); measures, per attribute, the difference in scores and the
accuracy of a one-hidden-layer classifier beside the most-frequent rate (in sample); and, for the
whitelisted relations, each relation's test MRR with and without attribute vectors (Figure 5). Writes
``runs.csv`` and ``summary.md`` to ``--out`` and prints the summary.

The paper used FB15K, which the project does not have: expect lower MRR on FB15k-237 (no inverse
relations) and compare patterns and ratios. The full setting (50 epochs, 3 seeds, 5 models) takes hours on a
2-core CPU; ``--epochs`` and ``--seeds`` make shorter runs, which the summary states, and runs already in
``--out`` (same epochs and dimension) are kept, so an interrupted reproduction continues where it stopped.

    KGCORE_DATA_DIR=../shared/data python bench/reproduce_fisher2020.py --out bench/results/fisher2020
    python bench/reproduce_fisher2020.py --epochs 2 --seeds 1 --out /tmp/fisher2020   # a short run
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

from kgcore import published
from kgcore.analysis.residual import residual_measures
from kgcore.data.datasets import DataSource
from kgcore.data.whitelist import builtin_whitelist, resolve_whitelist
from kgcore.models import ModelConfig, build_model
from kgcore.models.options import parse_weights
from kgcore.training.evaluate import evaluate
from kgcore.training.loop import TrainConfig, seed_everything, train
from kgcore.training.presets import FISHER2020

ATTRIBUTES = published.ATTRIBUTES
# name -> (registry model, its own options beside the preset's, label as in the paper). Bose [s] trains the one
# filter of the attribute measured: here gender's (the paper's gender column; its other columns would each
# need a run of their own).
MODELS = {
    "basic": ("transe", {}, "Basic"),
    "bose_s": ("bose", {"filters": "s"}, "Bose & Ham. [s] (gender filter)"),
    "bose_a": ("bose", {"filters": "a"}, "Bose & Ham. [a]"),
    "kl": ("kl", {}, "KL"),
    "kl_attr": ("kl", {"whitelist": "fb15k237"}, "KL + Attr."),
}
# A reference the paper does not have (``--models basic_no_gender``): Basic trained without the gender triples,
# so its classifier reads only what the rest of the graph (professions, places...) tells about gender.
REFERENCE_MODELS = {"basic_no_gender": ("transe", {}, "Basic, gender triples withheld")}
WITHHELD = {"basic_no_gender": ("gender",)}
ALL_MODELS = {**MODELS, **REFERENCE_MODELS}
# Published FB15K (filtered) figures, ../shared/reference/papers.md section 5.
PAPER_TABLE_3_4 = published.SPEED_AND_LINK_PREDICTION  # s/epoch, MRR, H@1, H@10, H@50
PAPER_TABLE_5 = published.DIFFERENCE_IN_SCORES  # gender, religion, ethnicity, nationality
PAPER_TABLE_6 = published.CLASSIFIER_ACCURACY


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", help="FB15k-237 folder (default: $KGCORE_DATA_DIR/fb15k-237, then the cache)")
    parser.add_argument("--out", required=True, help="folder for runs.csv and summary.md")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated subset of {', '.join(ALL_MODELS)} (default: the paper's five)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per model")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="start at this seed instead (to share seeds out between processes writing to separate "
                             "--out folders; their runs.csv files concatenate)")
    parser.add_argument("--epochs", type=int, default=int(FISHER2020.train["epochs"]))
    parser.add_argument("--dim", type=int, default=int(FISHER2020.model["dim"]))
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds of the attribute classifier")
    parser.add_argument("--kl-weights", help="KL weights instead of the preset's (the paper's FB15K ones: gender 1, "
                        "the others 100), e.g. 1 or gender=10,religion=10")
    parser.add_argument("--batch-negatives", type=int, default=int(FISHER2020.train.get("batch_negatives", 0)),
                        help="of the 1000 shared negatives, how many are drawn from the batch's heads and tails "
                             "(TrainConfig.batch_negatives)")
    parser.add_argument("--kl-moves", choices=("people", "people+relations"),
                        help="what the KL term moves, for both KL models (default: the paper's, people only)")
    return parser.parse_args()


def model_config(name: str, dim: int, kl_weights: str | None = None, kl_moves: str | None = None) -> ModelConfig:
    """The preset's model for ``name``; ``kl_weights`` (``W`` or ``ATTR=W,...``) replaces the preset's KL
    weights (the paper's FB15K choice) for both KL models."""
    model, extra, _ = ALL_MODELS[name]
    debias = [] if model == "transe" else ["gender"] if extra.get("filters") == "s" else list(ATTRIBUTES)
    options = {**FISHER2020.model_options(model, debias), **extra}
    if model == "kl" and kl_weights:
        options["kl_weight"] = parse_weights(kl_weights)
    if model == "kl" and kl_moves:
        options["kl_moves"] = kl_moves
    if options.get("whitelist") == "fb15k237":
        options["whitelist"] = builtin_whitelist("fb15k237")
    return ModelConfig(model=model, debias=debias, options=options, **{**FISHER2020.model, "dim": dim})


def whitelisted_relations(graph) -> list[str]:
    """The relations the shipped whitelist names (Figure 5's relations), those with test triples."""
    ids = sorted({r for r, _, _ in resolve_whitelist(builtin_whitelist("fb15k237"), graph)})
    test = graph.splits["test"]
    return [graph.relations[r] for r in ids if int((test[:, 1] == r).sum())]


def run_one(name: str, seed: int, graph, args: argparse.Namespace) -> dict:
    seed_everything(seed)
    model = build_model(model_config(name, args.dim, args.kl_weights, args.kl_moves), graph)
    withheld = [graph.spec.attribute(a).relation for a in WITHHELD.get(name, ())]
    config = TrainConfig(**{**FISHER2020.train, "epochs": args.epochs, "seed": seed, "withheld_relations": withheld,
                            "batch_negatives": args.batch_negatives})
    started = time.perf_counter()
    result = train(model, graph, config, progress=False)
    row = {"model": name, "seed": seed, "epochs": args.epochs, "dim": args.dim, "batch_negatives": args.batch_negatives,
           "threads": torch.get_num_threads(), "train_seconds": time.perf_counter() - started,
           "seconds_per_epoch": statistics.median(r.seconds for r in result.history)}
    metrics = evaluate(model, graph, "test", without_sensitive=True)
    row.update({key: metrics[key] for key in ("mrr", "hits@1", "hits@10", "hits@50")})
    for attribute in ATTRIBUTES:
        measures = residual_measures(model, graph, attribute, folds=args.folds, seed=seed)
        row[f"difference_{attribute}"] = measures["difference"]
        row[f"individual_{attribute}"] = measures["score_difference"]["individual_part"]
        row[f"accuracy_{attribute}"] = measures["accuracy"]
        row[f"most_frequent_{attribute}"] = measures["most_frequent_rate"]
    if ALL_MODELS[name][0] == "kl":
        for relation in whitelisted_relations(graph):
            row[f"relation_mrr::{relation}"] = evaluate(model, graph, "test", relation=relation)["mrr"]
    print(f"{name} seed {seed}: {row['seconds_per_epoch']:.1f} s/epoch, MRR {row['mrr']:.3f}, gender difference "
          f"{row['difference_gender']:.3f}, gender accuracy {row['accuracy_gender']:.3f}", flush=True)
    return row


def _cell(values: pd.Series, digits: int = 3) -> str:
    if values.isna().all():
        return "-"
    mean = values.mean()
    return f"{mean:.{digits}f}" + (f" ± {values.std():.{digits}f}" if len(values) > 1 else "")


def _paper(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary(frame: pd.DataFrame, args: argparse.Namespace, wall: float) -> str:
    names = [n for n in ALL_MODELS if n in set(frame["model"])]
    by = {name: frame[frame["model"] == name] for name in names}
    threads = (", ".join(str(int(n)) for n in sorted(set(frame["threads"].dropna()))) if "threads" in frame
               else "not recorded") or "not recorded"
    lines = [f"# The debiasing paper's tables on FB15k-237 (preset fisher2020, d = {args.dim}, {args.epochs} epochs, "
             f"seeds {', '.join(str(s) for s in sorted(set(frame['seed'])))})", "",
             "Ours: FB15k-237, mean ± std over seeds; the paper: FB15K, as published (../shared/reference/papers.md). "
             "Link prediction without the sensitive relations' triples in test. "
             + ("Shorter than the paper's 50 epochs: compare patterns and ratios, not values. "
                if args.epochs < 50 else "")
             + (f"KL weights {args.kl_weights} instead of the paper's. " if args.kl_weights else "")
             + (f"The KL term moves {args.kl_moves}. " if args.kl_moves else "")
             + (f"{args.batch_negatives} of the 1000 shared negatives drawn from the batch's heads and tails. "
                if args.batch_negatives else "")
             + f"Training {frame['train_seconds'].sum() / 60:.0f} min summed over the runs (this invocation {wall / 60:.1f} "
             f"min); torch threads per run: {threads}; torch {torch.__version__}.", ""]
    basic_epoch = by["basic"]["seconds_per_epoch"].median() if "basic" in by else None
    lines += ["## Table 3: seconds per epoch", ""]
    if "threads" in frame and frame["threads"].nunique() > 1:
        lines += ["Not comparable between models: the runs used different numbers of torch threads (per model: "
                  + "; ".join(f"{ALL_MODELS[n][2]} {', '.join(str(int(t)) for t in sorted(set(by[n]['threads'].dropna())))}"
                              for n in names)
                  + "). `bench/fisher2020_speed.py` times them side by side.", ""]
    lines += ["| model | ours | ours / Basic | paper | paper / Basic |", "|---|---|---|---|---|"]
    for name in names:
        ours = by[name]["seconds_per_epoch"].median()
        paper = PAPER_TABLE_3_4.get(name, (None,))[0]
        lines.append(f"| {ALL_MODELS[name][2]} | {ours:.1f} | {ours / basic_epoch:.2f}x | {_paper(paper, 1)} | "
                     + (f"{paper / PAPER_TABLE_3_4['basic'][0]:.2f}x" if paper else "-") + " |"
                     if basic_epoch else f"| {ALL_MODELS[name][2]} | {ours:.1f} | - | {_paper(paper, 1)} | - |")
    lines += ["", "## Table 4: link prediction (test, without sensitive triples)", "",
              "| model | MRR | H@1 | H@10 | H@50 | paper MRR | H@1 | H@10 | H@50 |", "|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        ours = " | ".join(_cell(by[name][k]) for k in ("mrr", "hits@1", "hits@10", "hits@50"))
        paper = " | ".join(_paper(v) for v in PAPER_TABLE_3_4.get(name, (None,) * 5)[1:])
        lines.append(f"| {ALL_MODELS[name][2]} | {ours} | {paper} |")
    for table, key, paper_table in (("5: difference in scores", "difference", PAPER_TABLE_5),
                                    ("6: classifier accuracy", "accuracy", PAPER_TABLE_6)):
        lines += ["", f"## Table {table} (ours / paper)", "", "| model | " + " | ".join(ATTRIBUTES) + " |",
                  "|---|" + "---|" * len(ATTRIBUTES)]
        if key == "accuracy":
            cells = [f"{_cell(frame[f'most_frequent_{a}'])} / {_paper(PAPER_TABLE_6['most frequent'][i])}"
                     for i, a in enumerate(ATTRIBUTES)]
            lines.append("| most frequent class | " + " | ".join(cells) + " |")
        for name in names:
            cells = [f"{_cell(by[name][f'{key}_{a}'])} / {_paper(paper_table.get(name, (None,) * len(ATTRIBUTES))[i])}" for i, a in enumerate(ATTRIBUTES)]
            lines.append(f"| {ALL_MODELS[name][2]} | " + " | ".join(cells) + " |")
    if any(f"individual_{a}" in frame for a in ATTRIBUTES):
        lines += ["", "## Table 5, individual part (not in the paper)", "",
                  "The part of the difference in scores that comes from each person's own scores, apart from each "
                  "value's mean score over the people (which favours some values for everyone, whoever the person "
                  "is); `kgcore.analysis.residual`.", "", "| model | " + " | ".join(ATTRIBUTES) + " |",
                  "|---|" + "---|" * len(ATTRIBUTES)]
        for name in names:
            cells = [_cell(by[name][f"individual_{a}"]) for a in ATTRIBUTES]  # NaN (older runs): "-"
            lines.append(f"| {ALL_MODELS[name][2]} | " + " | ".join(cells) + " |")
    relation_columns = [c for c in frame.columns if c.startswith("relation_mrr::")]
    if relation_columns and {"kl", "kl_attr"} <= set(names):
        gains = []
        for column in relation_columns:
            without, with_ = by["kl"][column].mean(), by["kl_attr"][column].mean()
            if without > 0:
                gains.append((with_ - without) / without)
        lines += ["", "## Figure 5: attribute vectors on whitelisted relations", "",
                  f"Test MRR of KL + Attr. against KL on the {len(gains)} whitelisted relations with test triples: "
                  f"median relative gain {statistics.median(gains):+.1%} (paper, FB15K: about +25%)." if gains else
                  "No whitelisted relation has test triples."]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(ALL_MODELS))
    if unknown:
        raise SystemExit(f"unknown model(s): {', '.join(unknown)}; choose from {', '.join(ALL_MODELS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    graph = DataSource(dataset="fb15k237", data_dir=args.data_dir).load()
    # Runs already in --out's runs.csv (same epochs, dimension and batch negatives) are kept, not trained again.
    previous = pd.read_csv(out / "runs.csv") if (out / "runs.csv").exists() else pd.DataFrame()
    if len(previous) and "dim" in previous:
        batch_negatives = previous["batch_negatives"] if "batch_negatives" in previous else 0  # older files: none
        previous = previous[(previous["epochs"] == args.epochs) & (previous["dim"] == args.dim)
                            & (batch_negatives == args.batch_negatives)]
    rows = previous.to_dict("records") if "dim" in previous else []
    done = {(row["model"], int(row["seed"])) for row in rows}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in names:
            if (name, seed) in done:
                continue
            rows.append(run_one(name, seed, graph, args))
            write_results(rows, out, args, time.perf_counter() - started)  # an interruption keeps what finished
    print(write_results(rows, out, args, time.perf_counter() - started))


def write_results(rows: list[dict], out: Path, args: argparse.Namespace, wall: float) -> str:
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "runs.csv", index=False)
    text = summary(frame, args, wall)
    (out / "summary.md").write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
