"""How the KL term's weights trade link prediction for neutrality on the demo world, in the fisher2020
preset (d 64, 10 epochs, seed 0): Basic, then KL debiasing all four attributes with the paper's FB15K weights
(gender 1, the others 100), then with weight 1 for all, then gender alone at 1, 10 and 100. Prints each
model's difference in scores per attribute (the debiasing paper's Table 5 measure) and its test MRR
without the sensitive triples.

    python bench/kl_weights_demo.py
"""
from __future__ import annotations

import torch

from kgcore.analysis.residual import score_difference
from kgcore.data.datasets import DataSource
from kgcore.models import ModelConfig, build_model
from kgcore.training.evaluate import evaluate
from kgcore.training.loop import TrainConfig, seed_everything, train
from kgcore.training.presets import FISHER2020


def main() -> None:
    torch.set_num_threads(1)
    graph = DataSource(dataset="demo").load()
    attributes = list(graph.spec.attribute_names)
    settings = [("transe", [], {}), ("kl", attributes, {"*": 100.0, "gender": 1.0}), ("kl", attributes, {"*": 1.0}),
                ("kl", ["gender"], {"*": 1.0}), ("kl", ["gender"], {"*": 10.0}), ("kl", ["gender"], {"*": 100.0})]
    print("demo world, fisher2020 preset, d 64, 10 epochs, seed 0; difference in scores per attribute, test MRR")
    for model, debias, weights in settings:
        seed_everything(0)
        config = ModelConfig(model=model, debias=debias, options={"kl_weight": weights} if model == "kl" else {},
                             **{**FISHER2020.model, "dim": 64})
        net = build_model(config, graph)
        train(net, graph, TrainConfig(**{**FISHER2020.train, "epochs": 10, "seed": 0}), progress=False)
        differences = ", ".join(f"{a} {score_difference(net, graph, a)['difference']:.2f}" for a in attributes)
        mrr = evaluate(net, graph, "test", without_sensitive=True)["mrr"]
        label = "Basic" if model == "transe" else f"KL on {','.join(debias)} weights {weights}"
        print(f"{label:60s} {differences}; MRR {mrr:.3f}", flush=True)


if __name__ == "__main__":
    main()
