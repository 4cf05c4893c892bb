"""What a model associates with a person's *recorded* value, without moving any embedding."""
from __future__ import annotations

import pandas as pd
import torch

from ..errors import KGError
from ..data.graph import KnowledgeGraph
from ..models import KGEModel
from .measure import evaluation_mode
from .people import preview


def held_out_people(graph: KnowledgeGraph, attribute: str = "gender") -> torch.Tensor:
    """People with a recorded ``attribute`` value and no target (profession) triple in train: for them the
    model's profession scores come from everything else it knows, not from a memorised fact."""
    table, target = graph.attribute_table(attribute), graph.target_table
    train = graph.splits["train"]
    if target.reversed:
        known = train[train[:, 1] == target.relation_id][:, 2]
    else:
        known = train[train[:, 1] == target.relation_id][:, 0]
    people = table.person_ids[table.membership.any(1)]
    return people[~torch.isin(people, known.to(people.device))]


def recorded_association(model: KGEModel, graph: KnowledgeGraph, attribute: str = "gender",
                         value: str | None = None, people: torch.Tensor | None = None,
                         centre_exclude: tuple[str, ...] = ()) -> pd.Series:
    """How differently the model scores each profession for people *recorded* with ``value`` than for the
    others, without moving any embedding.

    The perturbation measure (``measure_bias``) asks what the person's own vector carries. Attribute
    embeddings (``kl`` with a whitelist) put the recorded value back only for whitelisted professions,
    outside that vector, so the perturbation cannot see them; this complementary measure can: for every
    profession p,

        A_p^v = mean_{j recorded v} c_jp  -  mean_{j recorded otherwise} c_jp,
        c_jp  = S(j, r_p, p) - mean_{q not in centre_exclude} S(j, r_p, q)

    (scores centred per person on the professions not excluded, so that raising a whitelisted profession for
    someone does not move every other profession's score). ``people`` defaults to ``held_out_people``.
    A_p^v > 0: in this graph, the model scores p higher for people recorded with v. People with several
    recorded values count on the side of ``value`` if they hold it.
    """
    table, target = graph.attribute_table(attribute), graph.target_table
    labels = list(table.value_labels)
    if value is None:
        value = labels[0]
    if value not in labels:
        raise KGError(f"{attribute} has no value {value!r}; values: {preview(labels)}.")
    people = held_out_people(graph, attribute) if people is None else people
    rows = {int(pid): i for i, pid in enumerate(table.person_ids.tolist())}
    missing = [int(pid) for pid in people.tolist() if int(pid) not in rows]
    if missing:
        raise KGError(f"{len(missing)} of the given people have no recorded {attribute}.")
    membership = table.membership[[rows[int(pid)] for pid in people.tolist()]]
    has_value = membership[:, labels.index(value)].bool()
    others = membership.any(1).bool() & ~has_value
    if int(has_value.sum()) == 0 or int(others.sum()) == 0:
        raise KGError(f"Need people recorded with {value!r} and people recorded otherwise for {attribute}; "
                      f"got {int(has_value.sum())} and {int(others.sum())}.")
    names = list(target.value_labels)
    keep = torch.tensor([name not in centre_exclude for name in names])
    with evaluation_mode(model), torch.no_grad():
        device = next(model.parameters()).device
        ids = people.to(device)
        relation = torch.full_like(ids, target.relation_id)
        if target.reversed:
            scores = model.score_heads(relation, ids, candidates=target.value_ids.to(device))
        else:
            scores = model.score_tails(ids, relation, candidates=target.value_ids.to(device))
        scores = scores.float().cpu()
    centred = scores - scores[:, keep].mean(1, keepdim=True)
    gap = centred[has_value].mean(0) - centred[others].mean(0)
    return pd.Series(gap.numpy(), index=names, name=f"A_{value}")
