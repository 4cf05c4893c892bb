"""Attribute vectors (Fisher et al., EMNLP 2020, "KL + Attr."): put a person's recorded attribute back
where it may legitimately matter.

One learned vector A_a[v] per value v of each debiased attribute a. For a triple (j, r, t) whose relation
r, or pair (r, t), is on the whitelist, the person's head vector is their debiased embedding plus the
vectors of the values they hold,

    h_j = e_j + sum_a sum_{v held by j} A_a[v]        (only for whitelisted (r, t))

so an association such as (profession, nun) with gender stays predictable from the recorded attribute
while every other relation sees the neutral e_j. Which value each person holds is fixed from the training
graph when the model is built and saved as buffers. The vectors start at zero (the model starts as the
pure KL model) and apply to the head side only. Scores go through the model's interaction.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from ..data.graph import AttributeTable, KnowledgeGraph
    from .attributes import DebiasedAttribute


class AttributeVectors:
    """Mixin for a ``KGEModel``: the whitelist, the vectors and the score hooks that apply them.

    The model calls ``init_attribute_vectors`` in its constructor; buffers and parameters live on the
    model itself (their names are part of saved runs)."""

    def init_attribute_vectors(self, graph: "KnowledgeGraph", attributes: list["DebiasedAttribute"],
                               tables: list["AttributeTable"], whitelist: list[tuple[int, int]], dim: int) -> None:
        self.whitelist = whitelist
        self.whitelist_names = [[graph.relations[r], "*" if t < 0 else graph.entities[t]] for r, t in whitelist]
        for k, table in enumerate(tables):
            self.register_buffer(f"membership_{k}", table.membership.float())
        star = torch.zeros(graph.num_relations, dtype=torch.bool)
        pair_rel, pair_tail = [], []
        for r, t in whitelist:
            if t < 0:
                star[r] = True
            else:
                pair_rel.append(r)
                pair_tail.append(t)
        keep = [i for i, r in enumerate(pair_rel) if not star[r]]  # a whole relation covers its pairs
        self.register_buffer("star_relation", star)
        self.register_buffer("pair_relation", torch.tensor([pair_rel[i] for i in keep], dtype=torch.long))
        self.register_buffer("pair_tail", torch.tensor([pair_tail[i] for i in keep], dtype=torch.long))
        self.register_buffer("pair_key", torch.sort(self.pair_relation * graph.num_entities + self.pair_tail).values)
        self.attribute_vectors = nn.ParameterList(
            [nn.Parameter(torch.zeros(a.num_values, dim)) for a in attributes] if whitelist else [])

    def relation_whitelisted(self, relation_id: int) -> bool:
        return any(r == relation_id for r, _ in self.whitelist)

    def person_offsets(self, ids: torch.Tensor) -> torch.Tensor:
        """sum_a sum_{v held by j} A_a[v] for each entity id ([B, D]; zero for non-people)."""
        rows = self.person_row[ids]
        known = (rows >= 0).unsqueeze(1)
        safe = rows.clamp_min(0)
        total = None
        for k, vectors in enumerate(self.attribute_vectors):
            term = getattr(self, f"membership_{k}")[safe] @ vectors
            total = term if total is None else total + term
        return total * known

    def is_whitelisted(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Whether each (r, t) pair is whitelisted (its relation, or the exact pair): bool [B]."""
        hit = self.star_relation[r]
        if self.pair_key.numel():
            keys = r * self.num_entities + t
            pos = torch.searchsorted(self.pair_key, keys).clamp_max(self.pair_key.numel() - 1)
            hit = hit | (self.pair_key[pos] == keys)
        return hit

    def head_adjustment(self, heads: torch.Tensor | None, relations: torch.Tensor,
                        tails: torch.Tensor | None) -> torch.Tensor | None:
        if not self.whitelist or heads is None or tails is None:
            return None
        rows = self.is_whitelisted(relations, tails).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            return None
        offsets = self.person_offsets(heads.index_select(0, rows))
        return offsets.new_zeros((heads.shape[0], offsets.shape[1])).index_copy(0, rows, offsets)

    def adjust_tail_scores(self, scores: torch.Tensor, h: torch.Tensor, r: torch.Tensor,
                           candidates: torch.Tensor | None, head: torch.Tensor,
                           relation: torch.Tensor) -> torch.Tensor:
        """Rescore the whitelisted (h, r, c) entries with the head e_h + attribute vectors."""
        if not self.whitelist:
            return scores
        relation = relation.expand(head.shape[0], -1)
        offsets = self.person_offsets(h)
        person = self.person_row[h] >= 0
        star = self.star_relation[r] & person
        if bool(star.any()):
            rows = star.nonzero(as_tuple=True)[0]
            fresh = self.interaction.score_tails(head[rows] + offsets[rows], relation[rows], self._candidates(candidates))
            scores = scores.index_copy(0, rows, fresh.to(scores.dtype))
        if self.pair_relation.numel():
            match = (r.unsqueeze(1) == self.pair_relation.unsqueeze(0)) & (person & ~star).unsqueeze(1)  # [B, W]
            b_idx, w_idx = match.nonzero(as_tuple=True)
            if b_idx.numel():
                tails = self.pair_tail[w_idx]
                if candidates is None:
                    cols = tails
                else:  # the columns of candidates equal to each pair's tail
                    m_idx, cols = (candidates.unsqueeze(0) == tails.unsqueeze(1)).nonzero(as_tuple=True)
                    b_idx, tails = b_idx[m_idx], tails[m_idx]
                if b_idx.numel():
                    fresh = self.interaction.score(head[b_idx] + offsets[b_idx], relation[b_idx],
                                                   self.entity_vectors(tails))
                    scores = scores.index_put((b_idx, cols), fresh.to(scores.dtype))
        return scores

    def adjust_head_scores(self, scores: torch.Tensor, r: torch.Tensor, t: torch.Tensor,
                           candidates: torch.Tensor | None, tail: torch.Tensor,
                           relation: torch.Tensor) -> torch.Tensor:
        """For whitelisted (r_b, t_b), candidate heads that are people are scored as e_c + offsets."""
        if not self.whitelist:
            return scores
        rows = self.is_whitelisted(r, t).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            return scores
        cand_ids = torch.arange(self.num_entities, device=scores.device) if candidates is None else candidates
        cols = (self.person_row[cand_ids] >= 0).nonzero(as_tuple=True)[0]
        if cols.numel() == 0:
            return scores
        people = cand_ids[cols]
        heads = self.entity_vectors(people) + self.person_offsets(people)
        relation = relation.expand(tail.shape[0], -1)
        fresh = self.interaction.score_heads(relation[rows], tail[rows], heads)
        return scores.index_put((rows.unsqueeze(1), cols.unsqueeze(0)), fresh.to(scores.dtype))
