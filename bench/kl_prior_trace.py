"""Where KL + attribute vectors' remaining gender difference comes from, epoch by epoch, on FB15k-237 in the
fisher2020 preset: the KL term, the difference in scores (Table 5's measure) and the gender relation's own
preference <r, v_male - v_female>, the part of every person's score gap that the relation adds whoever the
person is. The KL term moves only the people's vectors (relation and values frozen for it, as in the paper),
so when the ranking loss grows that preference each person must be pulled back against it.

    KGCORE_DATA_DIR=../shared/data python bench/kl_prior_trace.py --epochs 50 --every 5
"""
from __future__ import annotations

import argparse

import torch

from kgcore.analysis.residual import score_difference
from kgcore.data.datasets import DataSource
from kgcore.models import build_model
from kgcore.training.loop import TrainConfig, seed_everything, train
from kgcore.training.presets import FISHER2020

from reproduce_fisher2020 import model_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="FB15k-237 folder (default: $KGCORE_DATA_DIR/fb15k-237, then the cache)")
    parser.add_argument("--epochs", type=int, default=int(FISHER2020.train["epochs"]))
    parser.add_argument("--every", type=int, default=5, help="measure every N epochs (and after epochs 1 and 2)")
    parser.add_argument("--model", default="kl_attr", choices=["kl", "kl_attr"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    graph = DataSource(dataset="fb15k237", data_dir=args.data_dir).load()
    seed_everything(args.seed)
    model = build_model(model_config(args.model, int(FISHER2020.model["dim"])), graph)
    gender = [a.name for a in model.attributes].index("gender")
    values, relation_id = getattr(model, f"values_{gender}"), model.attributes[gender].relation_id
    print(f"{args.model}, seed {args.seed}: gender values {[graph.label(graph.entities[int(v)]) for v in values]}")
    print(f"{'epoch':>5s} {'KL term':>8s} {'difference':>10s} {'<r, v1 - v2>':>12s} {'|r|':>6s}")

    def report(record) -> None:
        if record.epoch > 2 and record.epoch % args.every and record.epoch != args.epochs:
            return
        model.eval()
        with torch.no_grad():
            difference = score_difference(model, graph, "gender")["difference"]
            v = model.entity.weight[values]
            r = model.relation.weight[relation_id]
        model.train()
        print(f"{record.epoch:5d} {record.extras.get('kl_gender', float('nan')):8.4f} {difference:10.3f} "
              f"{float(r @ (v[0] - v[1])):12.3f} {float(r.norm()):6.2f}", flush=True)

    train(model, graph, TrainConfig(**{**FISHER2020.train, "epochs": args.epochs, "seed": args.seed}),
          progress=False, on_epoch=report)


if __name__ == "__main__":
    main()
