"""Attribute vectors (Fisher et al., EMNLP 2020, "KL + Attr."): put a person's recorded attribute back
where it may legitimately matter.

One learned vector A_a[v] per value v of each debiased attribute a. For a triple (j, r, t) on the
whitelist of attribute a, either because the relation r may use a for everyone or because the pair
(r, t) may (a profession that may use gender), the person's head vector is their embedding plus the vectors
of the values they hold of each such attribute,

    h_j = e_j + sum_{a whitelisted for (r, t)} sum_{v held by j} A_a[v]

so an association such as (profession, nun) with gender stays predictable from the recorded attribute
while every other relation sees the neutral e_j. Which value each person holds is fixed from the training
graph when the model is built and saved as buffers.

Training the vectors (the paper's twin triples): every sensitive triple of a batch, (j, gender, female),
gets a twin (j, gender[ATTR], female) with a twin relation of its own, scored with the person's attribute
vectors added. Choices where the paper is silent: a twin is scored against the attribute's values (softmax
cross-entropy of the recorded value), and the person's embedding and the values' are detached in it, so the
twins train the attribute vectors and twin relations without teaching the person's own vector the
attribute that the KL term removes. Twin relations live only while training: they never enter the graph's
relations and are left out of saved weights. The vectors start at zero and apply to the head side only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .embedding import RowEmbedding, unit_norm

if TYPE_CHECKING:
    from ..data.graph import AttributeTable, KnowledgeGraph
    from .attributes import DebiasedAttribute

TWIN_PREFIX = "twin_relation."


class AttributeVectors:
    """Mixin for a ``KGEModel``: the whitelist, the vectors, the twin relations and the score hooks that
    apply the vectors. The model calls ``init_attribute_vectors`` in its constructor; buffers and
    parameters live on the model itself (their names are part of saved runs)."""

    def init_attribute_vectors(self, graph: "KnowledgeGraph", attributes: list["DebiasedAttribute"],
                               tables: list["AttributeTable"], whitelist: list[tuple[int, int, str]],
                               dim: int) -> None:
        names = [a.name for a in attributes]
        # Entries of attributes this model does not debias have nothing to add back.
        self.whitelist = [(r, t, a) for r, t, a in whitelist if a == "*" or a in names]
        self.whitelist_names = [[graph.relations[r], "*" if t < 0 else graph.entities[t], a]
                                for r, t, a in self.whitelist]
        for k, table in enumerate(tables):
            self.register_buffer(f"membership_{k}", table.membership.float())
        # All attributes' values side by side, so a person's offset is one product: [P, sum V] and, for each
        # value column, the attribute it belongs to (derived, not saved).
        self.register_buffer("membership_all", torch.cat([t.membership.float() for t in tables], 1)
                             if tables else torch.zeros(graph.num_entities, 0), persistent=False)
        self.register_buffer("value_attribute", torch.cat([torch.full((t.membership.shape[1],), k, dtype=torch.long)
                                                           for k, t in enumerate(tables)])
                             if tables else torch.zeros(0, dtype=torch.long), persistent=False)
        n_attr = len(attributes)
        star = torch.zeros(n_attr, graph.num_relations, dtype=torch.bool)  # [A, R]: relation whitelisted for a
        pairs: dict[int, list[bool]] = {}  # key r * N + t -> attributes
        for r, t, a in self.whitelist:
            chosen = range(n_attr) if a == "*" else [names.index(a)]
            for k in chosen:
                if t < 0:
                    star[k, r] = True
                else:
                    pairs.setdefault(r * graph.num_entities + t, [False] * n_attr)[k] = True
        keys = sorted(pairs)
        self.register_buffer("star_relation", star)
        self.register_buffer("pair_key", torch.tensor(keys, dtype=torch.long))
        self.register_buffer("pair_attributes", torch.tensor([pairs[k] for k in keys], dtype=torch.bool)
                             .reshape(len(keys), n_attr))
        has_pairs = torch.zeros(graph.num_relations, dtype=torch.bool)
        has_pairs[[k // graph.num_entities for k in keys]] = True
        self.register_buffer("relation_has_pairs", has_pairs, persistent=False)
        self.attribute_vectors = nn.ParameterList(
            [nn.Parameter(torch.zeros(a.num_values, dim)) for a in attributes] if self.whitelist else [])
        self.twin_relation = RowEmbedding(n_attr, self.interaction.relation_dim(dim)) if self.whitelist else None
        if self.twin_relation is not None:
            bound = 6.0 / dim ** 0.5
            with torch.no_grad():
                self.twin_relation.weight.uniform_(-bound, bound).copy_(unit_norm(self.twin_relation.weight))
            self._register_state_dict_hook(_drop_twins)
            self._register_load_state_dict_pre_hook(self._keep_twins)

    def _keep_twins(self, state_dict, prefix, *args) -> None:
        """A saved run holds no twin relations (they are dropped after training): keep the fresh ones."""
        key = prefix + TWIN_PREFIX + "weight"
        if key not in state_dict:
            state_dict[key] = self.twin_relation.weight.detach().clone()

    # ------------------------------------------------------------------ which attributes apply where
    def whitelisted_attributes(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """For each (r, t) pair, which debiased attributes may be used: bool [B, A]."""
        hit = self.star_relation[:, r].T.clone()
        if self.pair_key.numel():
            keys = r * self.num_entities + t
            pos = torch.searchsorted(self.pair_key, keys).clamp_max(self.pair_key.numel() - 1)
            found = self.pair_key[pos] == keys
            hit |= self.pair_attributes[pos] & found.unsqueeze(1)
        return hit

    def person_offsets(self, ids: torch.Tensor, attributes: torch.Tensor | None = None) -> torch.Tensor:
        """The vectors added to each person's head: sum over the ``attributes`` [B, A] that apply (all by
        default) of the vectors of the values the person holds (zero for non-people): [B, D]."""
        rows = self.person_row[ids]
        membership = self.membership_all[rows.clamp_min(0)] * (rows >= 0).to(self.membership_all.dtype).unsqueeze(1)
        if attributes is not None:
            membership = membership * attributes[:, self.value_attribute].to(membership.dtype)
        return membership @ torch.cat(list(self.attribute_vectors))

    # ------------------------------------------------------------------ the score hooks
    def head_adjustment(self, heads: torch.Tensor | None, relations: torch.Tensor,
                        tails: torch.Tensor | None) -> torch.Tensor | None:
        if not self.whitelist or heads is None or tails is None:
            return None
        applies = self.whitelisted_attributes(relations, tails)
        rows = applies.any(1).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            return None
        offsets = self.person_offsets(heads.index_select(0, rows), applies.index_select(0, rows))
        return offsets.new_zeros((heads.shape[0], offsets.shape[1])).index_copy(0, rows, offsets)

    def adjust_tail_scores(self, scores: torch.Tensor, h: torch.Tensor, r: torch.Tensor,
                           candidates: torch.Tensor | None, head: torch.Tensor,
                           relation: torch.Tensor) -> torch.Tensor:
        """Rescore (h, r, c) where attributes are whitelisted for r (the whole row) or for (r, c) (those
        columns) with the head e_h + the applicable attribute vectors."""
        if not self.whitelist:
            return scores
        relation = relation.expand(head.shape[0], -1)
        person = self.person_row[h] >= 0
        star = self.star_relation[:, r].T & person.unsqueeze(1)  # [B, A]
        star_rows = star.any(1).nonzero(as_tuple=True)[0]
        fresh_rows = None
        if star_rows.numel():
            offsets = self.person_offsets(h[star_rows], star[star_rows])
            fresh_rows = self.interaction.score_tails(head[star_rows] + offsets, relation[star_rows],
                                                      self._candidates(candidates)).to(scores.dtype)
        b_idx, cols, fresh = self._whitelisted_pairs(scores, h, r, candidates, head, relation, star, person)
        if fresh_rows is not None and b_idx.numel():
            # Pairs on rows already rescored whole go into those rows; the rest are single entries.
            row_in_star = torch.full((h.shape[0],), -1, dtype=torch.long, device=h.device)
            row_in_star[star_rows] = torch.arange(star_rows.numel(), device=h.device)
            inside = row_in_star[b_idx] >= 0
            fresh_rows = fresh_rows.index_put((row_in_star[b_idx[inside]], cols[inside]), fresh[inside])
            b_idx, cols, fresh = b_idx[~inside], cols[~inside], fresh[~inside]
        if fresh_rows is not None:  # one write into the scores: whole rows and single entries together
            n_cols = scores.shape[1]
            b_idx = torch.cat([star_rows.repeat_interleave(n_cols), b_idx])
            cols = torch.cat([torch.arange(n_cols, device=h.device).repeat(star_rows.numel()), cols])
            fresh = torch.cat([fresh_rows.reshape(-1), fresh])
        # In place: the interaction's fresh score matrix is this hook's own (no copy of [B, N]).
        return scores.index_put_((b_idx, cols), fresh) if b_idx.numel() else scores

    def _whitelisted_pairs(self, scores: torch.Tensor, h: torch.Tensor, r: torch.Tensor,
                           candidates: torch.Tensor | None, head: torch.Tensor, relation: torch.Tensor,
                           star: torch.Tensor, person: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The (row, column) entries of tail scores whose (relation, candidate) pair is whitelisted, with their
        scores from the head + the applicable attribute vectors."""
        none = (r[:0], r[:0], scores.new_zeros(0))
        rows = (self.relation_has_pairs[r] & person).nonzero(as_tuple=True)[0] if self.pair_key.numel() else r[:0]
        if rows.numel() == 0:
            return none
        # Look each (r, c) key up in the sorted pair keys.
        cand_ids = torch.arange(self.num_entities, device=h.device) if candidates is None else candidates
        keys = r[rows].unsqueeze(1) * self.num_entities + cand_ids.unsqueeze(0)  # [rows, N]
        found_at = torch.searchsorted(self.pair_key, keys).clamp_max(self.pair_key.numel() - 1)
        row_idx, cols = (self.pair_key[found_at] == keys).nonzero(as_tuple=True)
        if row_idx.numel() == 0:
            return none
        b_idx = rows[row_idx]
        applies = star[b_idx] | self.pair_attributes[found_at[row_idx, cols]]
        fresh = self.interaction.score(head[b_idx] + self.person_offsets(h[b_idx], applies), relation[b_idx],
                                       self.entity_vectors(cand_ids[cols]))
        return b_idx, cols, fresh.to(scores.dtype)

    def adjust_head_scores(self, scores: torch.Tensor, r: torch.Tensor, t: torch.Tensor,
                           candidates: torch.Tensor | None, tail: torch.Tensor,
                           relation: torch.Tensor) -> torch.Tensor:
        """For (r_b, t_b) with whitelisted attributes, candidate heads that are people are scored as e_c + the
        applicable attribute vectors."""
        if not self.whitelist:
            return scores
        applies = self.whitelisted_attributes(r, t)
        rows = applies.any(1).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            return scores
        cand_ids = torch.arange(self.num_entities, device=scores.device) if candidates is None else candidates
        cols = (self.person_row[cand_ids] >= 0).nonzero(as_tuple=True)[0]
        if cols.numel() == 0:
            return scores
        people = cand_ids[cols]
        base = self.entity_vectors(people)  # [C, D]
        relation = relation.expand(tail.shape[0], -1)
        masks, group = torch.unique(applies[rows], dim=0, return_inverse=True)  # rows sharing their attributes
        chosen_rows, fresh = [], []
        for g, mask in enumerate(masks):
            chosen = rows[group == g]
            heads = base + self.person_offsets(people, mask.expand(people.shape[0], -1))
            chosen_rows.append(chosen)
            fresh.append(self.interaction.score_heads(relation[chosen], tail[chosen], heads))  # [rows, C]
        chosen = torch.cat(chosen_rows)  # one write into the scores for every group
        return scores.index_put_((chosen.unsqueeze(1), cols.unsqueeze(0)), torch.cat(fresh).to(scores.dtype))

    # ------------------------------------------------------------------ the twins
    def twin_loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """The batch's sensitive triples scored with twin relations and the people's attribute vectors added:
        softmax cross-entropy of the recorded value against the attribute's values, per attribute."""
        if self.twin_relation is None:
            return {}
        chosen = []  # (attribute index, its people, the index of each one's value among the attribute's values)
        for k, attribute in enumerate(self.attributes):
            rows = (batch[:, 1] == attribute.relation_id).nonzero(as_tuple=True)[0]
            if rows.numel() == 0:
                continue
            people = batch[rows, 2] if attribute.reversed else batch[rows, 0]
            values = batch[rows, 0] if attribute.reversed else batch[rows, 2]
            target = (values.unsqueeze(1) == getattr(self, f"values_{k}").unsqueeze(0))  # [P, V]; outside top M: none
            keep = target.any(1) & (self.person_row[people] >= 0)
            if bool(keep.any()):
                chosen.append((k, people[keep], target[keep].float().argmax(1)))
        if not chosen:
            return {}
        # One lookup each of the people (with their attribute vectors), the values and the twin relations.
        people = torch.cat([p for _, p, _ in chosen])
        persons = (self.entity_vectors(people).detach() + self.person_offsets(people)).split([len(p) for _, p, _ in chosen])
        sizes = [getattr(self, f"values_{k}").numel() for k in range(len(self.attributes))]
        values = self.entity_vectors(self.all_values).detach().split(sizes)
        twins = self.twin_relation(torch.arange(len(self.attributes), device=batch.device))
        terms: dict[str, torch.Tensor] = {}
        for (k, _, target), person in zip(chosen, persons):
            twin, attribute = twins[k:k + 1], self.attributes[k]
            scores = (self.interaction.score_heads(twin, person, values[k]) if attribute.reversed
                      else self.interaction.score_tails(person, twin, values[k]))
            terms[f"twin_{attribute.name}"] = F.cross_entropy(scores, target)
        return terms


def _drop_twins(module, state_dict, prefix, local_metadata) -> None:
    """Twin relations are discarded after training: saved weights hold none."""
    for key in [k for k in state_dict if k.startswith(prefix + TWIN_PREFIX)]:
        del state_dict[key]
