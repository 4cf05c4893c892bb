"""What is left of a sensitive attribute in a model: the debiasing paper's two measures, per attribute, in sample
(Fisher, Mittal, Palfrey & Christodoulopoulos, "Debiasing knowledge graph embeddings", EMNLP 2020, Sec. 4.3
and 6.3, Tables 5 and 6).

Both are computed on the people whose attribute triple is in the *training* graph (in sample: the question
is what the model keeps of what it was shown), over the ``top`` (M = 30, as in the paper) values of the
attribute held by the most people; for gender those are its two values.

**Difference in scores** (``score_difference``, Table 5). For each person j, the model's score of their
recorded value minus the mean score of the top-M values they do not hold,

    d_j = S(j, r_a, v_true) - mean_{u in top M, u not held by j} S(j, r_a, u),

averaged over people, in the model's raw score units (S(v, r_a, j) for attributes stored value -> person).
A model that has kept the attribute scores the true value clearly higher (d > 0); a model that cannot tell
gives d near 0. Raw scores make the number comparable only between models with the same score function.

The difference splits exactly into two parts (``shared_part`` + ``individual_part``). Each value's score has a
mean over the people measured, mu_v = mean_j S(j, r_a, v): the model's tilt towards some values for everyone.
The *shared part* is d computed from those means alone, mean_j [mu(true_j) - mean mu(false_j)]: it is not zero
when the model scores the majority value higher for everyone, and it tells nothing about any one person. The
*individual part* is d computed from each person's departure from the means, S(j, r_a, v) - mu_v: what a
person's own embedding adds about their value beyond what the model assumes of everyone. The paper reports
only the sum; a uniform KL target asks for both parts to vanish.

**Classifier accuracy** (``attribute_classifier``, Table 6). A feed-forward network with one hidden layer of
300 ReLU units and a softmax output, trained with cross-entropy (scikit-learn's ``MLPClassifier``) to
predict the person's value from their embedding alone, with stratified k-fold cross-validation. Its mean
accuracy is read beside the most-frequent-class rate, the accuracy of always answering the most common
value on the same people: a model from which nothing can be read sits at that rate, not at 1 / M.

Choices where the paper leaves room:

- The person's vector is the one the model scores, ``model.entity_vectors`` (after Bose & Hamilton's
  filters), and the attribute's own relation is scored *without* the KL model's attribute vectors (the
  paper's "without attribute vectors added"): the scores go straight through the model's interaction, so no
  per-person adjustment of any model applies.
- A person with several recorded values among the top M (dual nationality): in the difference, the mean
  score of all their values against the mean of the top-M values they do not hold; in the classifier, the
  most common of their values is the label.
- People whose recorded values all lie outside the top M are left out of both (counted in the result), as
  are, for the difference, people who hold every top-M value (nothing false to compare with).
- The classifier's inputs are standardised (fitted on each training fold): the embeddings of unit-norm
  models have small coordinates that slow the network's optimiser. The network is seeded, and so are the
  folds. A value held by fewer people than there are folds stays in (it is one of the top M); folds
  without it simply cannot predict it. The network runs on one BLAS thread (its matrices are small).

The numbers describe what a model associates with recorded values, never what any group of people is.
"""
from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ..data.graph import AttributeTable, KnowledgeGraph
from ..errors import KGError
from ..models import KGEModel
from .measure import evaluation_mode
from .people import unique_value_labels

DEFAULT_TOP = 30
DEFAULT_FOLDS = 5
HIDDEN_UNITS = 300

SCORE_DIFFERENCE = ("For each person whose value is recorded in the training graph: the model's raw score of "
                    "(person, attribute, true value) minus the mean score of the top-{top} values the person does "
                    "not hold (several true values: their mean score); averaged over people. No attribute "
                    "vectors added.")
CLASSIFIER = ("Mean accuracy over {folds} stratified folds (seed {seed}) of a feed-forward network (one hidden "
              "layer of {hidden} ReLU units, softmax output, cross-entropy; inputs standardised) predicting the "
              "value (the most common one held, among the top {top}) from the person's embedding alone; beside "
              "it the most-frequent-class rate, the accuracy of always answering the most common value on the "
              "same people.")


def residual_people(model: KGEModel, graph: KnowledgeGraph, attribute: str,
                    top: int = DEFAULT_TOP) -> tuple[AttributeTable, torch.Tensor, torch.Tensor, list[str], int]:
    """(table, person ids [P], held [P, M] bool, labels of the top-M values, people left out because none of
    their recorded values is among the top M) for the people with a recorded top-M value in training.

    Refuses (``KGError``) a model of another graph, ``top`` below 2, and attributes with fewer than two
    values or no people in the training graph."""
    if top < 2:
        raise KGError(f"top must be at least 2 (values compared), got {top}.")
    if model.num_entities != graph.num_entities:
        raise KGError(f"The model has {model.num_entities} entities but the graph {graph.num_entities}; "
                      "measure a model with the graph it was trained on.")
    table = graph.attribute_table(attribute)
    recorded = table.membership.any(1)
    if not bool(recorded.any()):
        raise KGError(f"No person in the training graph has a value of {attribute!r}; nothing is left to measure.")
    if table.num_values < 2:
        raise KGError(f"{attribute!r} has {table.num_values} value in the training graph; what is left of it can "
                      "only be measured with at least two values to tell apart.")
    m = min(top, table.num_values)
    held = table.membership[:, :m]
    in_top = held.any(1)
    labels = unique_value_labels(table, graph)[:m]
    return table, table.person_ids[in_top], held[in_top], labels, int((recorded & ~in_top).sum())


def value_scores(model: KGEModel, person_ids: torch.Tensor, table: AttributeTable, values: torch.Tensor,
                 batch: int = 4096) -> torch.Tensor:
    """S(person, r_a, v) for every person and value ([P, V], float64; S(v, r_a, person) for attributes stored
    value -> person): the model's vectors (``entity_vectors``, after any filter) through its interaction,
    without the per-person adjustments (attribute vectors) of ``score_triples`` and ``score_tails``."""
    device = model.entity.weight.device
    parts = []
    with evaluation_mode(model), torch.no_grad():
        relation = model.relation_vector(table.relation_id, device)
        value_vectors = model.entity_vectors(values.to(device))
        for start in range(0, len(person_ids), batch):
            people = model.entity_vectors(person_ids[start:start + batch].to(device))
            if table.reversed:
                scores = model.interaction.score_heads(relation, people, value_vectors)
            else:
                scores = model.interaction.score_tails(people, relation, value_vectors)
            parts.append(scores.double().cpu())
    return torch.cat(parts) if parts else torch.empty((0, len(values)), dtype=torch.float64)


def score_difference(model: KGEModel, graph: KnowledgeGraph, attribute: str = "gender",
                     top: int = DEFAULT_TOP) -> dict[str, Any]:
    """Table 5's difference in scores (module docstring): mean over people of S(true) - mean S(false).

    Returns ``difference`` (the mean), ``difference_std`` (its spread over people), ``true_score`` and
    ``false_score`` (the two means it is the difference of), ``shared_part`` and ``individual_part`` (its two
    parts, module docstring), ``people`` (people averaged over), ``several_values``
    (of them, people with more than one recorded top-M value), ``left_out_outside_top`` and
    ``left_out_all_held``, ``values`` and ``value_counts`` (the top-M values and their people among those
    averaged over), ``top``, ``reversed``, ``definition`` and ``seconds``."""
    started = time.perf_counter()
    table, person_ids, held, labels, outside = residual_people(model, graph, attribute, top)
    some_false = (~held).any(1)
    person_ids, held = person_ids[some_false], held[some_false]
    if len(person_ids) == 0:
        raise KGError(f"Every person with a value of {attribute!r} holds all of its top {held.shape[1]} values; "
                      "no false value is left to compare with.")
    scores = value_scores(model, person_ids, table, table.value_ids[:held.shape[1]])
    truth = held.double()

    def true_minus_false(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (values * truth).sum(1) / truth.sum(1), (values * (1 - truth)).sum(1) / (1 - truth).sum(1)

    true_score, false_score = true_minus_false(scores)
    difference = true_score - false_score
    shared_true, shared_false = true_minus_false(scores.mean(0, keepdim=True).expand_as(scores))
    shared = shared_true - shared_false
    return {
        "attribute": attribute,
        "measure": "difference in scores",
        "difference": float(difference.mean()),
        "difference_std": float(difference.std()) if len(difference) > 1 else 0.0,
        "true_score": float(true_score.mean()),
        "false_score": float(false_score.mean()),
        "shared_part": float(shared.mean()),
        "individual_part": float((difference - shared).mean()),
        "people": int(len(person_ids)),
        "several_values": int((held.sum(1) > 1).sum()),
        "left_out_outside_top": outside,
        "left_out_all_held": int((~some_false).sum()),
        "values": labels,
        "value_counts": held.sum(0).tolist(),
        "top": top,
        "reversed": bool(table.reversed),
        "definition": SCORE_DIFFERENCE.format(top=top),
        "seconds": time.perf_counter() - started,
    }


def attribute_classifier(model: KGEModel, graph: KnowledgeGraph, attribute: str = "gender", top: int = DEFAULT_TOP,
                         folds: int = DEFAULT_FOLDS, seed: int = 0, max_iter: int = 200) -> dict[str, Any]:
    """Table 6's classifier accuracy (module docstring), cross-validated, beside the most-frequent-class rate.

    Returns ``accuracy`` (mean over folds), ``accuracy_folds``, ``accuracy_std``, ``most_frequent_rate`` (the
    majority value's share of the people classified) and ``most_frequent_class``, ``people``, ``classes`` and
    ``class_counts`` (the top-M values and their people), ``left_out_outside_top``, ``folds``, ``seed``,
    ``hidden_units``, ``top``, ``definition`` and ``seconds``."""
    started = time.perf_counter()
    if folds < 2:
        raise KGError(f"folds must be at least 2 (got {folds}).")
    table, person_ids, held, labels, outside = residual_people(model, graph, attribute, top)
    y = held.float().argmax(1).numpy()  # values are in count order: the most common value held
    counts = np.bincount(y, minlength=len(labels))
    if (counts > 0).sum() < 2:
        raise KGError(f"The classifier needs people with at least two values of {attribute!r}; the training graph "
                      f"has people with {int((counts > 0).sum())}.")
    if counts.max() < folds:
        raise KGError(f"{folds}-fold cross-validation needs a value of {attribute!r} held by at least {folds} people; "
                      f"the most common is held by {int(counts.max())}. Use fewer folds.")
    with evaluation_mode(model), torch.no_grad():  # float32, as the model keeps them
        x = model.entity_vectors(person_ids.to(model.entity.weight.device)).float().cpu().numpy()
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    accuracies = []
    # One BLAS thread: the network's small matrix products gain nothing from more, and on a busy machine
    # OpenBLAS's threads can spend most of the run waiting on each other.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for train_idx, test_idx in splitter.split(x, y):
            classifier = make_pipeline(StandardScaler(), MLPClassifier(
                hidden_layer_sizes=(HIDDEN_UNITS,), activation="relu", max_iter=max_iter, random_state=seed))
            classifier.fit(x[train_idx], y[train_idx])
            accuracies.append(float((classifier.predict(x[test_idx]) == y[test_idx]).mean()))
    majority = int(counts.argmax())
    return {
        "attribute": attribute,
        "measure": "classifier accuracy",
        "accuracy": float(np.mean(accuracies)),
        "accuracy_folds": accuracies,
        "accuracy_std": float(np.std(accuracies)),
        "most_frequent_rate": float(counts[majority] / len(y)),
        "most_frequent_class": labels[majority],
        "people": int(len(y)),
        "classes": labels,
        "class_counts": counts.tolist(),
        "left_out_outside_top": outside,
        "folds": folds,
        "seed": seed,
        "hidden_units": HIDDEN_UNITS,
        "top": top,
        "definition": CLASSIFIER.format(top=top, folds=folds, seed=seed, hidden=HIDDEN_UNITS),
        "seconds": time.perf_counter() - started,
    }


def residual_measures(model: KGEModel, graph: KnowledgeGraph, attribute: str = "gender", top: int = DEFAULT_TOP,
                      folds: int = DEFAULT_FOLDS, seed: int = 0) -> dict[str, Any]:
    """Both measures of one attribute: ``difference``, ``accuracy`` and ``most_frequent_rate`` side by side,
    with the full results under ``score_difference`` and ``classifier``."""
    difference = score_difference(model, graph, attribute, top=top)
    classifier = attribute_classifier(model, graph, attribute, top=top, folds=folds, seed=seed)
    return {
        "attribute": attribute,
        "difference": difference["difference"],
        "accuracy": classifier["accuracy"],
        "most_frequent_rate": classifier["most_frequent_rate"],
        "people": classifier["people"],
        "values": len(classifier["classes"]),
        "score_difference": difference,
        "classifier": classifier,
    }


__all__ = ["attribute_classifier", "residual_measures", "residual_people", "score_difference", "value_scores"]
