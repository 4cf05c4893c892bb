"""``python -m kgcore bias RUN_DIR``: the professions a trained model most associates with each value of a
sensitive attribute (Fisher et al. 2019's embedding-perturbation score), with the training graph's counts."""
from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
import time
from typing import Any

import pandas as pd

from ..analysis.measure import (DEFAULT_MIN_SUPPORT, DEFAULT_STEP_SIZE, DEFAULT_STEPS, DEFAULT_USE_PROBABILITY,
                                measure_bias)
from ..analysis.aggregate import aggregate_bias
from ..analysis.tables import bias_table, data_vs_model
from ..runs import load_run

FORMATS = ("table", "csv", "json")
DEFAULT_MAX_VALUES = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bias", help="per-profession bias scores of a run: the professions most associated with each value",
        description=textwrap.fill(
            "Move every person's embedding a gradient step towards one value of a sensitive attribute (e.g. "
            "(person, gender, male)) and away from the others, and record how the model's probability of each "
            "profession (softmax over professions; or its raw score) changes, averaged over people (B_p; "
            "Fisher et al. 2019, arXiv:1912.02761, Sec. 3). "
            "Prints the --top professions with the largest B_p for each value, beside the training graph's "
            "counts per value and the value's share. The scores describe what the model associates; in "
            "FB15k-237 and Wikidata gender is recorded with two values.", width=100),
        epilog=("examples:\n"
                "  python -m kgcore bias runs/transe --attribute gender\n"
                "  python -m kgcore bias runs/transe --attribute gender --value female --top 10 --format csv\n"
                "  python -m kgcore bias runs/transe --attribute religion --max-values 3 --aggregate --probe\n"
                "  python -m kgcore bias runs/kl --residual --format json\n"),
        formatter_class=_Formatter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by `kgcore train`")
    parser.add_argument("--attribute", default=None,
                        help="sensitive attribute named in the run's dataset spec (gender, religion, ...); default: "
                             "gender (and with --residual, every attribute of the spec for those measures)")
    parser.add_argument("--value", metavar="V",
                        help="only this value (label such as 'female', or entity id); default: every value, "
                             "or the --max-values most common ones")
    parser.add_argument("--max-values", type=int, default=DEFAULT_MAX_VALUES, metavar="N",
                        help="without --value, measure the N most common values (0: all)")
    parser.add_argument("--top", type=int, default=20, metavar="K", help="professions per value")
    parser.add_argument("--min-support", type=int, default=DEFAULT_MIN_SUPPORT, metavar="N",
                        help="list only professions with at least N people in the training graph (and correlate data "
                             "share with B over professions with at least N people with a recorded value)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (readable), csv (one row per value and profession) or json")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="gradient steps per person")
    parser.add_argument("--step-size", type=float, default=DEFAULT_STEP_SIZE, help="gradient step size (alpha)")
    parser.add_argument("--measure", choices=("probability", "score"),
                        default="probability" if DEFAULT_USE_PROBABILITY else "score",
                        help="what B averages: the change of the softmax probability over professions, or "
                             "of the raw triple score (which can shift every profession alike)")
    parser.add_argument("--aggregate", action="store_true",
                        help="also one bias number for the model (mean |B_p| over values and professions) with "
                             "a bootstrap 95%% CI over people")
    parser.add_argument("--probe", action="store_true",
                        help="also the leakage probe: cross-validated logistic regression predicting the "
                             "attribute from person embeddings (ROC-AUC, balanced accuracy), and the same "
                             "scores for the model's own prediction of the attribute from its triple scores")
    parser.add_argument("--residual", action="store_true",
                        help="also the debiasing paper's two measures of what is left of each attribute (Fisher et "
                             "al. 2020, Tables 5-6; in sample, no attribute vectors): the score gap between a "
                             "person's true value and the other top-30 values (raw scores, averaged over people), "
                             "and how well a one-hidden-layer network reads the value from the embedding "
                             "(cross-validated accuracy beside the always-majority rate)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the bootstrap, the probe's folds and the --residual classifier")
    parser.add_argument("--device", default="cpu")
    parser.set_defaults(handler=run)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:  # no "(default: None)": the help says what happens without the option
            return action.help
        return super()._get_help_string(action)


def run(args: argparse.Namespace) -> int:
    from ..errors import KGError

    if args.top < 1:
        raise KGError(f"--top must be at least 1 (got {args.top}).")
    if args.max_values < 0:
        raise KGError(f"--max-values must be 0 (all) or more (got {args.max_values}).")
    loaded = load_run(args.run_dir, device=args.device)
    model, graph = loaded.model, loaded.graph
    residual_attributes = [args.attribute] if args.attribute else list(graph.spec.attribute_names)
    args.attribute = args.attribute or "gender"
    started = time.perf_counter()
    result = measure_bias(model, graph, attribute=args.attribute, value=args.value, steps=args.steps,
                          step_size=args.step_size, use_probability=args.measure == "probability",
                          max_values=args.max_values or None)
    tables = {value: bias_table(result, value, top=args.top, min_support=args.min_support)
              for value in result.measured}
    correlations = {value: data_vs_model(result, value, min_support=args.min_support)[1] for value in result.measured}
    aggregate = probe = prediction = None
    if args.aggregate:
        aggregate = aggregate_bias(model, graph, attribute=args.attribute, steps=args.steps,
                                   step_size=args.step_size, use_probability=args.measure == "probability",
                                   max_values=args.max_values or None, seed=args.seed)
    if args.probe:
        from ..analysis.probe import leakage_probe, prediction_leakage

        probe = leakage_probe(model, graph, attribute=args.attribute, seed=args.seed)
        prediction = prediction_leakage(model, graph, attribute=args.attribute)
    residual = None
    if args.residual:
        from ..analysis.residual import residual_measures

        residual = {}
        for name in residual_attributes:
            try:
                residual[name] = residual_measures(model, graph, name, seed=args.seed)
            except KGError as exc:  # one attribute of the spec that cannot be measured leaves the others
                if len(residual_attributes) == 1:
                    raise
                residual[name] = {"attribute": name, "error": str(exc)}
    seconds = time.perf_counter() - started
    measure = "change of P(profession)" if args.measure == "probability" else "change of score"
    if args.format == "json":
        payload: dict[str, Any] = {
            "run": str(loaded.path), "attribute": args.attribute, "values": result.values,
            "measured": result.measured, "people": result.people, "steps": args.steps,
            "step_size": args.step_size, "measure": measure, "min_support": args.min_support,
            "tables": {v: t.reset_index().to_dict(orient="records") for v, t in tables.items()},
            "data_vs_model": correlations, "seconds": seconds,
        }
        if aggregate is not None:
            payload["aggregate"] = aggregate
        if probe is not None:
            payload["probe"], payload["prediction"] = probe, prediction
        if residual is not None:
            payload["residual"] = residual
        print(json.dumps(_clean(payload), indent=2))
    elif args.format == "csv":
        frames = []
        for value, table in tables.items():
            frame = table.reset_index()
            frame = frame.rename(columns={f"B_{value}": "B", f"share_{value}": "share"})
            frame.insert(0, "value", value)
            frames.append(frame)
        sys.stdout.write(pd.concat(frames, ignore_index=True).to_csv(index=False))
        # Summaries do not fit the CSV's rows: they go to stderr so stdout stays one clean table.
        for line in _summary_lines(aggregate, probe, prediction) + _residual_lines(residual):
            print(line, file=sys.stderr)
    else:
        print(f"run {loaded.path}: {graph.name}, attribute {args.attribute!r}, {result.people} people perturbed "
              f"({args.steps} step(s) of {args.step_size:g}; B = {measure}, averaged over people)")
        if result.binary:
            print(f"note: {args.attribute} is recorded in this graph with two values ({', '.join(result.values)}).")
        for value, table in tables.items():
            corr = correlations[value]
            print()
            print(f"Professions the model most associates with {args.attribute} = {value} "
                  f"(top {len(table)}, at least {args.min_support} people):")
            print(table.drop(columns=["entity"]).to_string(float_format=lambda x: f"{x:.4g}"))
            print(f"data share vs B across {corr['professions']} professions: Pearson {corr['pearson']:.3f}, "
                  f"Spearman {corr['spearman']:.3f}")
        for line in _summary_lines(aggregate, probe, prediction) + _residual_lines(residual):
            print(line)
        print(f"({seconds:.2f} s)")
    return 0


def _summary_lines(aggregate: dict | None, probe: dict | None, prediction: dict | None) -> list[str]:
    lines = []
    if aggregate is not None:
        lines.append(f"aggregate bias ({aggregate['attribute']}): {aggregate['bias']:.4g} "
                     f"[{aggregate['ci'] * 100:.0f}% CI {aggregate['ci_low']:.4g} .. {aggregate['ci_high']:.4g}, "
                     f"bootstrap over {aggregate['people']} people, seed {aggregate['seed']}]")
    if probe is not None:
        lines.append(f"leakage probe ({probe['attribute']}, {len(probe['classes'])} classes, {probe['folds']}-fold): "
                     f"ROC-AUC {probe['roc_auc']:.3f}, balanced accuracy {probe['balanced_accuracy']:.3f} "
                     f"(shuffled-label control: AUC {probe.get('control_roc_auc', float('nan')):.3f})")
    if prediction is not None:
        lines.append(f"the model's own prediction ({prediction['attribute']}, {prediction['people']} people): "
                     f"ROC-AUC {prediction['roc_auc']:.3f}, balanced accuracy {prediction['balanced_accuracy']:.3f}, "
                     f"mean distance from even odds {prediction['distance_from_uniform']:.3f}")
    return lines


def _residual_lines(residual: dict[str, dict] | None) -> list[str]:
    """The residual measures as a small table, one row per attribute, and what its columns mean."""
    residual = residual or {}
    measured = {name: r for name, r in residual.items() if "error" not in r}
    notes = [f"{name}: not measured: {r['error']}" for name, r in residual.items() if "error" in r]
    if not measured:
        return ([""] + notes) if notes else []
    frame = pd.DataFrame([{
        "attribute": name,
        "values": r["values"],
        "people": r["people"],
        "score gap (true - other)": r["difference"],
        "shared": r["score_difference"]["shared_part"],
        "individual": r["score_difference"]["individual_part"],
        "classifier accuracy": r["accuracy"],
        "always-majority rate": r["most_frequent_rate"],
    } for name, r in measured.items()])
    first = next(iter(measured.values()))
    top, folds = first["score_difference"]["top"], first["classifier"]["folds"]
    heading = (f"What is left of each attribute (debiasing paper, Tables 5-6; people with the value in training, "
               f"top {top} values, no attribute vectors):")
    legend = ("Score gap: the model's raw score of a person's true value minus the mean score of the other values, "
              "averaged over people (0: the model cannot tell them apart), and its two parts: shared, from each "
              "value's mean score over the people (the model's tilt towards some values for everyone, whoever the "
              "person is), and individual, from how each person's scores depart from those means (what their own "
              f"embedding adds). Classifier accuracy: {folds}-fold cross-validated, a network with one hidden layer "
              "of 300 ReLU units reading the value from the embedding alone, beside the accuracy of always answering "
              "the most common value.")
    return ["", heading, frame.to_string(index=False, float_format=lambda x: f"{x:.3f}"), *notes,
            textwrap.fill(legend, width=100)]


def _clean(value: Any) -> Any:
    """JSON without NaN (written as null) and with plain Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
