"""Attribute-leakage probe: can a linear classifier recover a sensitive attribute from person embeddings?

Bose & Hamilton ("Compositional fairness constraints for graph embeddings", ICML 2019) judge a debiased
embedding by how well an adversary predicts the sensitive attribute from it (ROC-AUC; 0.5 = nothing
leaks). Here the adversary is scikit-learn's logistic regression on standardised features, evaluated with
stratified k-fold cross-validation on the vectors the model actually scores (``model.entity_vectors``, so
after any filter). A shuffled-label run of the same pipeline is reported beside it as the empirical chance
level.

The attribute's own triple, e.g. (person, gender, female), is part of training, so an
undebiased embedding is expected to leak it almost perfectly: the probe measures what a debiasing
method removes, not a flaw peculiar to a model.

``facts_probe`` is the reference beside it: the same classifier on each person's *other* recorded facts
(no embedding at all). Where the rest of the graph records the attribute in other forms (FB15k-237 has
award categories such as "Best Actress", and professions recorded mostly for one gender), an embedding
that keeps those facts predictable can be expected to keep the attribute readable too, and the facts' AUC
says roughly where "only what the other facts say" lies (a reference, not a bound).

``prediction_leakage`` asks the model itself instead: how well its own scores of (person, attribute, value)
rank people by their recorded value, which is what the KL model's term evens out. A model can pass that
test (its own prediction at even odds) and still leak to the probe, which reads any linear direction.

The embedding-side reference is a model that never sees the attribute: the Basic model trained with the
attribute's relation withheld (``TrainConfig.withheld_relations``, ``train --withhold``), probed here like any
other: what it leaks is what the rest of the graph lets an embedding pick up (figures in ``bench/results/``).
"""
from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import torch
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .measure import attribute_scores, evaluation_mode
from ..errors import KGError
from ..data.graph import KnowledgeGraph
from ..models import KGEModel

OTHER = "(other)"


def probe_labels(graph: KnowledgeGraph, attribute: str, folds: int,
                 min_class_size: int | None = None) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """(person ids, class index per person, class names) for people with a recorded value.

    A person with several values (dual nationality) gets the most common one. Values held by fewer than
    ``min_class_size`` people (default ``2 * folds``) are pooled into one "(other)" class, so every fold
    sees every class."""
    table = graph.attribute_table(attribute)
    labels = table.single_label()
    keep = labels >= 0
    person_ids, y = table.person_ids[keep], labels[keep].numpy()
    names = list(table.value_labels)
    threshold = 2 * folds if min_class_size is None else min_class_size
    counts = np.bincount(y, minlength=len(names))
    rare = counts < threshold
    if rare.any():
        mapping = np.full(len(names), -1)
        kept = [i for i in range(len(names)) if not rare[i]]
        for new, old in enumerate(kept):
            mapping[old] = new
        other = len(kept)
        mapping[rare] = other
        y = mapping[y]
        names = [names[i] for i in kept]
        if counts[rare].sum() >= threshold:
            names.append(OTHER)
        else:  # too few to form a class of their own: leave them out
            drop = y == other
            person_ids, y = person_ids[torch.from_numpy(~drop)], y[~drop]
    return person_ids, y.astype(np.int64), names


def _probed_people(graph: KnowledgeGraph, attribute: str, folds: int,
                   min_class_size: int | None) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """``probe_labels``, refusing settings no cross-validated probe can run with."""
    if folds < 2:
        raise KGError(f"folds must be at least 2 (got {folds}).")
    person_ids, y, names = probe_labels(graph, attribute, folds, min_class_size)
    if len(names) < 2:
        raise KGError(f"The probe needs at least two values of {attribute!r} held by at least "
                      f"{min_class_size or 2 * folds} people each; this graph has {len(names)}.")
    return person_ids, y, names


def _cross_validated(x, y: np.ndarray, folds: int, seed: int, max_iter: int, scale: bool = True) -> dict[str, Any]:
    """Out-of-fold probabilities, pooled ROC-AUC / balanced accuracy, and per-fold values (``x`` dense
    and standardised, or a sparse 0/1 matrix with ``scale=False``)."""
    n_classes = int(y.max()) + 1
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    proba = np.zeros((len(y), n_classes))
    fold_auc, fold_bacc = [], []
    for train_idx, test_idx in splitter.split(x, y):
        classifier = make_pipeline(*([StandardScaler()] if scale else []),
                                   LogisticRegression(max_iter=max_iter, random_state=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            classifier.fit(x[train_idx], y[train_idx])
        part = np.zeros((len(test_idx), n_classes))
        part[:, classifier.classes_] = classifier.predict_proba(x[test_idx])
        proba[test_idx] = part
        fold_auc.append(_auc(y[test_idx], part))
        fold_bacc.append(float(balanced_accuracy_score(y[test_idx], part.argmax(1))))
    return {
        "roc_auc": _auc(y, proba),
        "balanced_accuracy": float(balanced_accuracy_score(y, proba.argmax(1))),
        "roc_auc_folds": fold_auc,
        "balanced_accuracy_folds": fold_bacc,
    }


def _probe(x, y: np.ndarray, names: list[str], attribute: str, folds: int, seed: int, control: bool,
           max_iter: int, scale: bool) -> dict[str, Any]:
    """The probes' shared result: who was probed, the cross-validated scores and, with ``control``, the
    same pipeline on labels shuffled with ``seed``."""
    result: dict[str, Any] = {
        "attribute": attribute,
        "people": int(len(y)),
        "classes": names,
        "class_counts": np.bincount(y, minlength=len(names)).tolist(),
        "folds": folds,
        "seed": seed,
        "chance_balanced_accuracy": 1.0 / len(names),
    }
    result.update(_cross_validated(x, y, folds, seed, max_iter, scale))
    if control:
        baseline = _cross_validated(x, np.random.default_rng(seed).permutation(y), folds, seed, max_iter, scale)
        result["control_roc_auc"] = baseline["roc_auc"]
        result["control_balanced_accuracy"] = baseline["balanced_accuracy"]
    return result


def _auc(y: np.ndarray, proba: np.ndarray) -> float:
    """Binary ROC-AUC, or macro one-vs-rest over the classes present."""
    present = np.unique(y)
    if len(present) < 2:
        return float("nan")
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    scores = [roc_auc_score(y == c, proba[:, c]) for c in present]
    return float(np.mean(scores))


def leakage_probe(model: KGEModel, graph: KnowledgeGraph, attribute: str = "gender", folds: int = 5,
                  seed: int = 0, control: bool = True, max_iter: int = 1000,
                  min_class_size: int | None = None) -> dict[str, Any]:
    """Cross-validated logistic-regression probe of ``attribute`` from person embeddings.

    Returns ROC-AUC (binary, or macro one-vs-rest for several values) and balanced accuracy, pooled over
    the out-of-fold predictions, with their per-fold values; ``chance_balanced_accuracy`` (1 / classes);
    and, with ``control``, the same pipeline on labels shuffled with ``seed`` (``control_roc_auc``,
    ``control_balanced_accuracy``): what "nothing leaks" looks like on these people.
    """
    started = time.perf_counter()
    person_ids, y, names = _probed_people(graph, attribute, folds, min_class_size)
    with evaluation_mode(model), torch.no_grad():
        x = model.entity_vectors(person_ids.to(model.entity.weight.device)).double().cpu().numpy()
    result = _probe(x, y, names, attribute, folds, seed, control, max_iter, scale=True)
    result["seconds"] = time.perf_counter() - started
    return result


def prediction_leakage(model: KGEModel, graph: KnowledgeGraph, attribute: str = "gender",
                       batch: int = 4096) -> dict[str, Any]:
    """How well the model's *own* score function gives the attribute away: for each person with a recorded
    value, P(v | person) = softmax_v S(person, r_a, v) over the attribute's values (S(v, r_a, person) for
    attributes stored value -> person; through filters and attribute embeddings, as ``kgcore.analysis.measure``
    scores them), against the recorded value.

    This is what the KL model's term drives to the target (eq. 1-2 of ``kgcore.models.kl``), and what
    link prediction of (person, r_a, ?) would answer; ``leakage_probe`` asks the harder question of
    whether *any* linear reading of the vectors recovers it. Returns ROC-AUC (binary, or macro
    one-vs-rest) and balanced accuracy of those probabilities (nothing is fitted, so no folds), and the
    mean total-variation distance of each person's distribution from the uniform one (0: every person
    predicted at even odds). The AUC is the prediction's own, not folded at 0.5: below 0.5 the model's
    scores systematically favour a value the person does not hold (as an adversarially trained encoder
    can learn to), which still tells whoever knows it."""
    started = time.perf_counter()
    table = graph.attribute_table(attribute)
    labels = table.single_label()
    known = labels >= 0
    person_ids, y = table.person_ids[known], labels[known].numpy()
    names = list(table.value_labels)
    if len(np.unique(y)) < 2:
        raise KGError(f"The prediction probe needs people with at least two values of {attribute!r}; "
                      f"this graph records {len(np.unique(y))}.")
    device = model.entity.weight.device
    parts = []
    with evaluation_mode(model), torch.no_grad():
        for start in range(0, len(person_ids), batch):
            ids = person_ids[start:start + batch].to(device)
            scores = attribute_scores(model, model.entity.weight.index_select(0, ids), ids, table)
            parts.append(torch.softmax(scores, 1).cpu())
    proba = torch.cat(parts).double().numpy()
    uniform = 1.0 / proba.shape[1]
    return {
        "attribute": attribute,
        "people": int(len(y)),
        "classes": names,
        "class_counts": np.bincount(y, minlength=len(names)).tolist(),
        "roc_auc": _auc(y, proba),
        "balanced_accuracy": float(balanced_accuracy_score(y, proba.argmax(1))),
        "chance_balanced_accuracy": 1.0 / len(names),
        "distance_from_uniform": float(0.5 * np.abs(proba - uniform).sum(1).mean()),
        "seconds": time.perf_counter() - started,
    }


def fact_features(graph: KnowledgeGraph, person_ids: torch.Tensor, exclude_relation: int) -> sparse.csr_matrix:
    """One 0/1 column per (direction, relation, other entity) seen in training: person x facts, without the
    facts of ``exclude_relation`` (the attribute's own)."""
    triples = graph.splits["train"].numpy()
    triples = triples[triples[:, 1] != exclude_relation]
    row_of = np.full(graph.num_entities, -1, dtype=np.int64)
    row_of[person_ids.numpy()] = np.arange(len(person_ids))
    rows, keys = [], []
    for side, other, offset in ((0, 2, 0), (2, 0, graph.num_relations)):  # person as head, then as tail
        row = row_of[triples[:, side]]
        held = row >= 0
        rows.append(row[held])
        keys.append((offset + triples[held, 1]) * graph.num_entities + triples[held, other])
    keys_all = np.concatenate(keys)
    columns, column_of = np.unique(keys_all, return_inverse=True)
    matrix = sparse.csr_matrix((np.ones(len(keys_all)), (np.concatenate(rows), column_of)),
                               shape=(len(person_ids), len(columns)))
    matrix.data[:] = 1.0  # a fact recorded twice is still one fact
    return matrix


def facts_probe(graph: KnowledgeGraph, attribute: str = "gender", folds: int = 5, seed: int = 0,
                control: bool = True, max_iter: int = 2000, min_class_size: int | None = None) -> dict[str, Any]:
    """``leakage_probe``'s classifier on each person's other recorded facts instead of an embedding.

    The same people, labels, folds and outputs as ``leakage_probe``, from the training triples alone
    (``fact_features``): how much the rest of this graph reveals about the attribute. A reference for the
    leakage of embeddings, not a bound: a 100-dimensional embedding keeps only part of those facts, and a
    linear probe reads it differently."""
    started = time.perf_counter()
    person_ids, y, names = _probed_people(graph, attribute, folds, min_class_size)
    x = fact_features(graph, person_ids, graph.attribute_table(attribute).relation_id)
    result = {"facts": int(x.shape[1]), **_probe(x, y, names, attribute, folds, seed, control, max_iter, scale=False)}
    result["seconds"] = time.perf_counter() - started
    return result


__all__ = ["fact_features", "facts_probe", "leakage_probe", "prediction_leakage", "probe_labels"]
