"""The debiasing paper's difference in scores (Table 5) of saved runs, split into its shared and individual
parts (``kgcore.analysis.residual.score_difference``), per attribute of the runs' graph.

    python -m kgcore train --dataset fb15k237 --preset fisher2020 --model transe --seed 0 --out runs/basic0
    python -m kgcore train --dataset fb15k237 --preset fisher2020 --model kl --whitelist fb15k237 \\
        --debias gender,religion,ethnicity,nationality --seed 0 --out runs/klattr0
    KGCORE_DATA_DIR=../shared/data python bench/residual_split.py runs/basic0 runs/klattr0
"""
from __future__ import annotations

import argparse

from kgcore.analysis.residual import score_difference
from kgcore.runs import load_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders (trained on the same graph)")
    args = parser.parse_args()
    graph = None
    print("| run | attribute | difference | shared | individual |\n|---|---|---|---|---|")
    for path in args.runs:
        run = load_run(path, graph=graph)
        graph = run.graph
        for attribute in graph.spec.attribute_names:
            gap = score_difference(run.model, graph, attribute)
            print(f"| {run.name} | {attribute} | {gap['difference']:.3f} | {gap['shared_part']:.3f} | "
                  f"{gap['individual_part']:.3f} |")


if __name__ == "__main__":
    main()
