"""One training loop for every model: shuffled batches, negative sampling, ranking loss, model extras,
per-epoch timing, periodic filtered validation MRR with early stopping, and cancellation."""
from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from . import fused
from .checkpoint import (restore_optimizers, restore_random_states, save_training_state, training_state)
from .divergence import check_training_finite
from ..errors import KGError
from .evaluate import evaluate
from ..data.graph import KnowledgeGraph
from .optimizers import DenseAdam, RowOptimizer, torch_optimizer
from ..models.embedding import RowEmbedding
from .losses import LOSSES, ranking_loss
from .sampling import NegativeSampler, TripleSet
from .settings import check_train_settings

if TYPE_CHECKING:
    from ..models import KGEModel

OPTIMIZERS = ("adam", "sgd", "adagrad")
NEGATIVE_MODES = ("corrupt", "shared")


def negative_pool(pos: torch.Tensor, num_entities: int, config: "TrainConfig",
                  generator: torch.Generator) -> torch.Tensor:
    """The shared negatives of one batch: ``config.batch_negatives`` of the batch's own heads and tails (half
    each, heads taking the odd one), drawn with replacement, then uniformly drawn entities up to
    ``config.num_negatives``."""
    uniform = torch.randint(num_entities, (config.num_negatives - config.batch_negatives,), generator=generator)
    if not config.batch_negatives:
        return uniform
    heads = (config.batch_negatives + 1) // 2
    picks = torch.randint(pos.shape[0], (config.batch_negatives,), generator=generator)
    from_batch = torch.cat([pos[picks[:heads], 0], pos[picks[heads:], 2]])
    return torch.cat([from_batch, uniform])


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 1024
    lr: float = 0.01
    optimizer: str = "adam"
    # margin ranking (Bordes et al.), softplus, self-adversarial (Sun et al. 2019) or softmax cross-entropy
    loss: str = "margin"
    margin: float = 1.0
    num_negatives: int = 1
    # "corrupt": each positive gets its own corrupted head or tail (Bordes et al.); "shared": one pool
    # of num_negatives entities per batch, scored as heads and tails of every positive. Pools of
    # hundreds of negatives then cost a matrix product instead of a gather per negative.
    negative_mode: str = "corrupt"
    # With negative_mode "shared": this many of the pool's entities are drawn from the batch's own heads and
    # tails (half each), the rest uniformly, as PyTorch-BigGraph's batch negatives. An entity then comes up as
    # a negative about as often as it comes up in triples, so the loss also contrasts a frequent value (the
    # majority gender) with the others instead of letting the model score it high for everyone. 0: all uniform.
    batch_negatives: int = 0
    filtered_negatives: bool = False
    adversarial_temperature: float = 1.0
    seed: int = 0
    eval_every: int = 0  # epochs between validation MRR checks; 0 = never
    eval_max_triples: int | None = 2000  # validation subset size (None = all), for fast early stopping
    patience: int = 3  # validation checks without improvement before stopping
    device: str = "auto"
    # Linear learning-rate warm-up from 0 to ``lr`` over this many epochs' steps (the debiasing paper's
    # AdaGrad warms up over the first epoch); 0: none.
    warmup_epochs: float = 0.0
    # Relations whose training triples the model never sees (``training_triples``): an attribute-blind
    # reference, e.g. Basic TransE without anyone's gender, for what the rest of the graph lets leak.
    withheld_relations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def validate(self) -> None:
        """Every setting within its range (``kgcore.training.settings``); a ``KGError`` names the first that is not."""
        check_train_settings(self, LOSSES, OPTIMIZERS, NEGATIVE_MODES)


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    seconds: float
    extras: dict[str, float] = field(default_factory=dict)
    valid_mrr: float | None = None


@dataclass
class TrainResult:
    history: list[EpochRecord]
    best_epoch: int
    best_valid_mrr: float | None
    stopped_early: bool
    cancelled: bool

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.mean([r.seconds for r in self.history])) if self.history else float("nan")


def training_triples(graph: KnowledgeGraph, withheld_relations: list[str] | tuple[str, ...] = ()) -> torch.Tensor:
    """The training split without the triples of ``withheld_relations`` (ids unchanged).

    A model trained without, say, ``/people/person/gender`` is blind to the attribute itself; how well
    the leakage probe still reads the attribute from it is what the graph's other facts give away through
    an embedding (the floor a debiasing method that keeps those facts predictable can reach)."""
    triples = graph.splits["train"]
    if withheld_relations:
        ids = torch.tensor([graph.relation_id(name) for name in withheld_relations])
        triples = triples[~torch.isin(triples[:, 1], ids)]
        if triples.shape[0] == 0:
            raise KGError(f"No training triples left after withholding {', '.join(withheld_relations)}.")
    return triples


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return the generator that drives batching and sampling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def make_optimizer(model: KGEModel, name: str, lr: float) -> tuple[RowOptimizer, torch.optim.Optimizer | None]:
    """Embedding tables get the row-wise optimizer (only the rows a batch touched are updated, which is
    what makes an epoch fast on a CPU); other parameters (filters, attribute vectors) a dense one of the
    same kind. Parameters a model optimises itself (discriminators) have ``requires_grad`` off or are
    kept out of ``model.parameters()``' trainable set by the model."""
    tables = [m for m in model.modules() if isinstance(m, RowEmbedding)]
    rows = RowOptimizer(tables, name, lr)
    dense = [p for p in model.trainable_dense_parameters() if p.requires_grad]
    if not dense:
        return rows, None
    if name == "adam":  # Bose's filters: four small tensors updated every step
        return rows, DenseAdam.for_parameters(dense, lr)
    return rows, torch_optimizer({"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad}[name], dense, lr=lr)


def set_learning_rate(optimizers: list, lr: float) -> None:
    """Set the learning rate of the row optimizer and of torch's or kgcore's dense ones."""
    for optimizer in optimizers:
        if hasattr(optimizer, "param_groups"):
            for group in optimizer.param_groups:
                group["lr"] = lr
        else:
            optimizer.lr = lr


def train(
    model: KGEModel,
    graph: KnowledgeGraph,
    config: TrainConfig,
    progress: bool = True,
    on_epoch: Callable[[EpochRecord], bool | None] | None = None,
    checkpoint_path: str | Path | None = None,
    resume_state: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` on ``graph.splits['train']`` (less ``config.withheld_relations``) in place.

    ``on_epoch`` is called after every epoch; returning False cancels training (the dashboard's stop
    button). With ``eval_every`` > 0 the model with the best validation MRR is restored at the end.
    ``checkpoint_path`` receives the training's whole state after each epoch (``kgcore.training.checkpoint``),
    written atomically; ``resume_state``, such a state loaded back, continues that training from the epoch
    after it, reaching the weights an uninterrupted training would.
    """
    config.validate()
    if model.interaction.reciprocal and config.negative_mode != "shared":
        raise KGError(f"The {model.interaction.name} interaction predicts heads with relation vectors of their "
                      "own, which only shared negatives train: use negative_mode 'shared' (--negative-mode shared).")
    generator = seed_everything(config.seed)
    device = resolve_device(config.device)
    model.to(device)
    if graph.splits["train"].shape[0] == 0:
        raise KGError("No training triples.")
    train_triples = training_triples(graph, config.withheld_relations)
    known = TripleSet(train_triples, graph.num_entities, graph.num_relations) if config.filtered_negatives else None
    sampler = NegativeSampler(graph.num_entities, config.num_negatives, known)
    row_optimizer, dense_optimizer = make_optimizer(model, config.optimizer, config.lr)
    optimizers = [opt for opt in (row_optimizer, dense_optimizer) if opt is not None]
    fused_step = fused.applies(model, config, device)
    valid = graph.splits["valid"]
    do_validate = config.eval_every > 0 and valid.shape[0] > 0

    history: list[EpochRecord] = []
    best_mrr, best_epoch, best_state = -math.inf, 0, None
    checks_without_improvement = 0
    stopped_early = cancelled = False
    n = train_triples.shape[0]
    warmup_steps = round(config.warmup_epochs * math.ceil(n / config.batch_size))
    step, first_epoch = 0, 1
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        restore_optimizers(optimizers, resume_state["optimizers"], Path(checkpoint_path or "checkpoint"))
        model.load_inner_optimizer_state(resume_state.get("inner_optimizer"))
        restore_random_states(resume_state["random"], generator)
        history = [EpochRecord(**record) for record in resume_state["history"]]
        best = resume_state["best"]
        best_mrr, best_epoch, best_state = best["mrr"], best["epoch"], best["state"]
        checks_without_improvement = best["checks"]
        step, first_epoch = resume_state["step"], resume_state["epoch"] + 1
    bar = tqdm(range(first_epoch, config.epochs + 1), desc=f"train {model.name}", unit="epoch",
               disable=not progress)
    for epoch in bar:
        model.train()
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        total_loss, extras_sum, batches = 0.0, {}, 0
        for begin in range(0, n, config.batch_size):
            step += 1
            if step <= warmup_steps + 1 and warmup_steps:
                set_learning_rate(optimizers, config.lr * min(1.0, step / warmup_steps))
            pos = train_triples[order[begin:begin + config.batch_size]]
            aux = model.auxiliary_step(pos.to(device))
            for opt in optimizers:
                opt.zero_grad(set_to_none=True)
            if config.negative_mode == "shared":
                pool = negative_pool(pos, graph.num_entities, config, generator).to(device)
                pos = pos.to(device)
                pos_scores, neg_scores = model.score_against_pool(pos, pool)
                mask = None
            else:
                neg, mask = sampler.sample(pos, generator)
                pos, neg = pos.to(device), neg.to(device)
                mask = mask.to(device) if mask is not None else None
                if fused_step:
                    # L1 TransE scoring with the margin loss: the loss and its gradients in one kernel, the
                    # model's extra terms fused too where it can (``KGEModel.fused_step``).
                    value, extra = model.fused_step(pos, neg, config.margin)
                    loss = torch.tensor(value)
                else:
                    # Positives and negatives in one call: one lookup per table per step.
                    both = torch.cat([pos, neg.reshape(-1, 3)])
                    scores = model.score_triples(both[:, 0], both[:, 1], both[:, 2])
                    pos_scores, neg_scores = scores[:pos.shape[0]], scores[pos.shape[0]:].view(neg.shape[:2])
            if not fused_step:
                loss = ranking_loss(pos_scores, neg_scores, config, mask)
                extra = model.extra_loss(pos)
            for term in extra.values():
                loss = loss + term
            if loss.requires_grad:
                loss.backward()
            for opt in optimizers:
                opt.step()
            total_loss += float(loss.detach())
            for key, value in {**{k: float(v.detach()) for k, v in extra.items()}, **aux}.items():
                extras_sum[key] = extras_sum.get(key, 0.0) + value
            batches += 1
        record = EpochRecord(
            epoch=epoch,
            loss=total_loss / batches,
            seconds=time.perf_counter() - start,
            extras={k: v / batches for k, v in extras_sum.items()},
        )
        check_training_finite(record.loss, model, epoch, config)
        if do_validate and (epoch % config.eval_every == 0 or epoch == config.epochs):
            metrics = evaluate(model, graph, split="valid", max_triples=config.eval_max_triples,
                               seed=config.seed, progress=False)
            record.valid_mrr = metrics["mrr"]
            if record.valid_mrr > best_mrr:
                best_mrr, best_epoch = record.valid_mrr, epoch
                best_state = copy.deepcopy(model.state_dict())
                checks_without_improvement = 0
            else:
                checks_without_improvement += 1
        history.append(record)
        if checkpoint_path is not None:
            best = {"mrr": best_mrr, "epoch": best_epoch, "state": best_state, "checks": checks_without_improvement}
            save_training_state(checkpoint_path, training_state(model, optimizers, generator, epoch, step, history,
                                                                best))
        bar.set_postfix(loss=f"{record.loss:.4f}", **({"valid_mrr": f"{record.valid_mrr:.3f}"}
                                                       if record.valid_mrr is not None else {}))
        if on_epoch is not None and on_epoch(record) is False:
            cancelled = True
            break
        if do_validate and checks_without_improvement >= config.patience:
            stopped_early = True
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = history[-1].epoch if history else 0
    model.eval()
    return TrainResult(
        history=history,
        best_epoch=best_epoch,
        best_valid_mrr=None if best_mrr == -math.inf else best_mrr,
        stopped_early=stopped_early,
        cancelled=cancelled,
    )
