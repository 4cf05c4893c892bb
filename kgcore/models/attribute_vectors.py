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
        # The values each person holds, as a compressed list: person p's entries are held_start[p] up to
        # held_start[p] + held_count[p].sum(), columns of all attributes' vectors stacked, sorted (so grouped
        # by attribute: held_count[p, a] of them are attribute a's). Derived from the tables, not saved.
        membership = (torch.cat([t.membership for t in tables], 1) if tables
                      else torch.zeros(graph.num_entities, 0, dtype=torch.bool))
        value_attribute = torch.cat([torch.full((t.membership.shape[1],), k, dtype=torch.long)
                                     for k, t in enumerate(tables)]) if tables else torch.zeros(0, dtype=torch.long)
        rows, columns = membership.nonzero(as_tuple=True)
        held_count = torch.zeros(membership.shape[0] + 1, len(tables), dtype=torch.long)  # row P: non-people, none
        held_count.index_put_((rows, value_attribute[columns]), torch.ones_like(rows), accumulate=True)
        start = held_count.sum(1).cumsum(0) - held_count.sum(1)
        for name, value in (("held_start", start), ("held_count", held_count), ("held_column", columns),
                            ("value_attribute", value_attribute)):
            self.register_buffer(name, value, persistent=False)
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
        self.register_buffer("relation_star", star.T.contiguous(), persistent=False)  # [R, A], for row look-ups
        self.register_buffer("pair_key", torch.tensor(keys, dtype=torch.long))
        self.register_buffer("pair_attributes", torch.tensor([pairs[k] for k in keys], dtype=torch.bool)
                             .reshape(len(keys), n_attr))
        has_pairs = torch.zeros(graph.num_relations, dtype=torch.bool)
        has_pairs[[k // graph.num_entities for k in keys]] = True
        self.register_buffer("relation_has_pairs", has_pairs, persistent=False)
        pair_tail = torch.zeros(graph.num_entities, dtype=torch.bool)  # the tails named by some pair
        pair_tail[[k % graph.num_entities for k in keys]] = True
        self.register_buffer("pair_tail", pair_tail, persistent=False)
        # Every attribute's value vectors stacked in one table (rows in ``held_column`` order); saved runs hold
        # one table per attribute, ``attribute_vectors.<k>``.
        self.attribute_vector_sizes = [a.num_values for a in attributes]
        self.register_parameter("attribute_vectors", nn.Parameter(torch.zeros(sum(self.attribute_vector_sizes), dim))
                                if self.whitelist else None)
        self.twin_relation = RowEmbedding(n_attr, self.interaction.relation_dim(dim)) if self.whitelist else None
        if self.twin_relation is not None:
            bound = 6.0 / dim ** 0.5
            with torch.no_grad():
                self.twin_relation.weight.uniform_(-bound, bound).copy_(unit_norm(self.twin_relation.weight))
            self._init_twin_lookup(graph)
            self._register_state_dict_hook(_saved_form)
            self._register_load_state_dict_pre_hook(self._from_saved_form)

    def _from_saved_form(self, state_dict, prefix, *args) -> None:
        """A saved run holds one table of attribute vectors per attribute (joined here) and no twin relations
        (they are dropped after training): keep the fresh ones."""
        parts = [prefix + f"attribute_vectors.{k}" for k in range(len(self.attribute_vector_sizes))]
        if all(part in state_dict for part in parts):
            state_dict[prefix + "attribute_vectors"] = torch.cat([state_dict.pop(part) for part in parts])
        key = prefix + TWIN_PREFIX + "weight"
        if key not in state_dict:
            state_dict[key] = self.twin_relation.weight.detach().clone()

    # ------------------------------------------------------------------ which attributes apply where
    def whitelisted_attributes(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """For each (r, t) pair, which debiased attributes may be used: bool [B, A]."""
        hit = self.relation_star.index_select(0, r)
        if self.pair_key.numel():
            keys = r * self.num_entities + t
            pos = torch.searchsorted(self.pair_key, keys).clamp_max_(self.pair_key.numel() - 1)
            found = self.pair_key.index_select(0, pos) == keys
            hit |= self.pair_attributes.index_select(0, pos) & found.unsqueeze(1)
        return hit

    def _held(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The columns of the values each of ``ids`` holds, person after person and attribute after attribute
        ([entries]), and how many each holds of each attribute ([B, A]; none for non-people)."""
        rows = self.person_row.index_select(0, ids)
        rows = torch.where(rows >= 0, rows, self.held_count.shape[0] - 1)  # non-people: the last row, empty
        counts = self.held_count.index_select(0, rows)  # [B, A]
        per_id = counts.sum(1)
        total = int(per_id.sum())
        entries = (torch.repeat_interleave(self.held_start.index_select(0, rows) - (per_id.cumsum(0) - per_id), per_id,
                                           output_size=total) + torch.arange(total, device=ids.device))
        return self.held_column.index_select(0, entries), counts

    @staticmethod
    def _bag_sums(columns: torch.Tensor, per_bag: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Row sums of ``table`` over consecutive bags of ``columns``, ``per_bag`` entries each: [bags, width]."""
        return F.embedding_bag(columns, table, per_bag.cumsum(0) - per_bag, mode="sum")

    def attribute_offsets(self, ids: torch.Tensor) -> torch.Tensor:
        """Each person's offset from each attribute alone, the sum of the vectors of the values they hold
        (zero for non-people): [B, A, D]. One bag per (person, attribute) of the person's entries."""
        columns, counts = self._held(ids)
        offsets = self._bag_sums(columns, counts.reshape(-1), self.attribute_vectors)
        return offsets.reshape(ids.shape[0], counts.shape[1], self.attribute_vectors.shape[1])

    def person_offsets(self, ids: torch.Tensor, attributes: torch.Tensor | None = None) -> torch.Tensor:
        """The vectors added to each person's head: sum over the ``attributes`` [B, A] that apply (all by
        default) of the vectors of the values the person holds (zero for non-people): [B, D]."""
        if attributes is None:  # one bag per person
            columns, counts = self._held(ids)
            return self._bag_sums(columns, counts.sum(1), self.attribute_vectors)
        per_attribute = self.attribute_offsets(ids)
        return (per_attribute * attributes.unsqueeze(2).to(per_attribute.dtype)).sum(1)

    # ------------------------------------------------------------------ the score hooks
    def head_adjustment(self, heads: torch.Tensor | None, relations: torch.Tensor,
                        tails: torch.Tensor | None) -> torch.Tensor | None:
        """The attribute vectors added to each head for its (relation, tail), or, with ``tails`` None, those
        that apply whatever the tail (attributes whitelisted for the relation): [B, D], or None."""
        if not self.whitelist or heads is None:
            return None
        applies = (self.relation_star.index_select(0, relations) if tails is None
                   else self.whitelisted_attributes(relations, tails))
        offsets = self._head_offsets(heads, [applies])
        return None if offsets is None else offsets[0]

    def head_adjustments(self, h: torch.Tensor, r: torch.Tensor,
                         t: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The offsets for any tail of r and for the tails t, from one look-up of each person's per-attribute
        offsets (those of r apply to both)."""
        if not self.whitelist:
            return None, None
        # The attributes whitelisted for (r, t) include those whitelisted for r itself.
        offsets = self._head_offsets(h, [self.relation_star.index_select(0, r), self.whitelisted_attributes(r, t)])
        return (None, None) if offsets is None else (offsets[0], offsets[1])

    def _head_offsets(self, heads: torch.Tensor, masks: list[torch.Tensor]) -> list[torch.Tensor] | None:
        """For each mask [B, A] of attributes, each head's offset from those of its attributes: [B, D], zero for
        non-people; None when no head is a person with any attribute in any mask."""
        stacked = torch.stack(masks, 1)  # [B, M, A]
        rows = (stacked.flatten(1).any(1) & (self.person_row.index_select(0, heads) >= 0)).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            return None
        per_attribute = self.attribute_offsets(heads.index_select(0, rows))  # [n, A, D]
        chosen = stacked.index_select(0, rows).to(per_attribute.dtype)  # [n, M, A]
        offsets = torch.bmm(chosen, per_attribute).unbind(1)  # M of [n, D]
        # Scattered into zeros one mask at a time: their gradients are the rows' own, not whole [B, D] tables.
        return [offset.new_zeros(heads.shape[0], offset.shape[1]).index_add(0, rows, offset) for offset in offsets]

    def adjust_tail_scores(self, scores: torch.Tensor, h: torch.Tensor, r: torch.Tensor,
                           candidates: torch.Tensor | None, head: torch.Tensor, relation: torch.Tensor,
                           candidate_vectors: torch.Tensor) -> torch.Tensor:
        """Rescore the (h, r, c) entries whose (r, c) pair whitelists attributes beyond those of r itself, with
        the vectors of those attributes added (``head`` already holds r's own, ``head_adjustment`` without a
        tail). In place: the interaction's fresh score matrix is this hook's own (no copy of [B, N])."""
        if not self.whitelist or not self.pair_key.numel():
            return scores
        rows = (self.relation_has_pairs.index_select(0, r) & (self.person_row.index_select(0, h) >= 0)
                ).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            return scores
        # Look the (r, c) keys of the candidates that some pair names up in the sorted pair keys.
        cand_ids = torch.arange(self.num_entities, device=h.device) if candidates is None else candidates
        named = self.pair_tail.index_select(0, cand_ids).nonzero(as_tuple=True)[0]
        keys = (r.index_select(0, rows).unsqueeze(1) * self.num_entities
                + cand_ids.index_select(0, named).unsqueeze(0))  # [rows, named]
        found_at = torch.searchsorted(self.pair_key, keys).clamp_max_(self.pair_key.numel() - 1)
        row_idx, named_idx = (self.pair_key[found_at] == keys).nonzero(as_tuple=True)
        extra = (self.pair_attributes.index_select(0, found_at[row_idx, named_idx])
                 & ~self.relation_star.index_select(0, r.index_select(0, rows.index_select(0, row_idx))))
        keep = extra.any(1).nonzero(as_tuple=True)[0]
        if keep.numel() == 0:
            return scores
        row_idx, named_idx, extra = (x.index_select(0, keep) for x in (row_idx, named_idx, extra))
        b_idx, cols = rows.index_select(0, row_idx), named.index_select(0, named_idx)
        relation = relation.expand(head.shape[0], -1)
        shift = self.interaction.offset_relation(relation.index_select(0, rows))
        if shift is not None:  # a score affine in the head: add the offsets' own scores, linear in the offsets
            # Each row's offset from each attribute alone against the named candidates in one product (a row
            # has several entries); every entry then sums the columns of its extra attributes.
            per_attribute = self.attribute_offsets(h.index_select(0, rows))  # [rows, A, D]
            n_attr = per_attribute.shape[1]
            gains = self.interaction.score_tails(per_attribute.reshape(-1, per_attribute.shape[2]),
                                                 shift.repeat_interleave(n_attr, 0),
                                                 candidate_vectors.index_select(0, named))
            gains = gains.reshape(rows.shape[0], n_attr, -1)[row_idx, :, named_idx]  # [entries, A]
            gain = (gains * extra.to(gains.dtype)).sum(1)
            return scores.index_put_((b_idx, cols), gain.to(scores.dtype), accumulate=True)
        offsets = self.person_offsets(h.index_select(0, b_idx), extra)
        candidates = candidate_vectors.index_select(0, cols)
        fresh = self.interaction.score(head.index_select(0, b_idx) + offsets, relation.index_select(0, b_idx),
                                       candidates)
        return scores.index_put_((b_idx, cols), fresh.to(scores.dtype))

    def adjust_head_scores(self, scores: torch.Tensor, r: torch.Tensor, t: torch.Tensor,
                           candidates: torch.Tensor | None, tail: torch.Tensor, relation: torch.Tensor,
                           candidate_vectors: torch.Tensor) -> torch.Tensor:
        """For (r_b, t_b) with whitelisted attributes, candidate heads that are people are scored as e_c + the
        applicable attribute vectors: for a score affine in the head, the value vectors' own scores summed per
        candidate; otherwise one score matrix per distinct set of attributes among the rows."""
        if not self.whitelist:
            return scores
        applies = self.whitelisted_attributes(r, t)
        rows = applies.any(1).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            return scores
        cand_ids = torch.arange(self.num_entities, device=scores.device) if candidates is None else candidates
        cols = (self.person_row.index_select(0, cand_ids) >= 0).nonzero(as_tuple=True)[0]
        if cols.numel() == 0:
            return scores
        people = cand_ids.index_select(0, cols)
        relation = relation.expand(tail.shape[0], -1)
        shift = self.interaction.offset_relation(relation.index_select(0, rows))
        if shift is not None:  # a score affine in the head: each value's vector adds a score of its own
            # Every value vector scored as a head of each row, zero where its attribute does not apply there;
            # a candidate's gain is the sum over the values it holds: one bag per candidate of those scores.
            per_value = self.interaction.score_heads(shift, tail.index_select(0, rows), self.attribute_vectors)
            applied = applies.index_select(0, rows).index_select(1, self.value_attribute)  # [R, V]
            per_value = per_value * applied.to(per_value.dtype)
            columns, counts = self._held(people)
            gain = self._bag_sums(columns, counts.sum(1), per_value.T.contiguous())  # [C, R]
            return scores.index_put_((rows.unsqueeze(1), cols.unsqueeze(0)), gain.T.to(scores.dtype),
                                     accumulate=True)
        per_attribute = self.attribute_offsets(people)  # [C, A, D]
        base = candidate_vectors[cols]  # [C, D]
        # Rows sharing their set of attributes share their candidates' vectors (the set as a bit code).
        bits = 1 << torch.arange(applies.shape[1], device=scores.device)
        codes, group = torch.unique((applies[rows].long() * bits).sum(1), return_inverse=True)
        chosen_rows, fresh = [], []
        for g, code in enumerate(codes.tolist()):
            chosen = rows[group == g]
            mask = (bits & code) > 0  # [A]
            heads = base + (per_attribute * mask.to(base.dtype).unsqueeze(1)).sum(1)
            chosen_rows.append(chosen)
            fresh.append(self.interaction.score_heads(relation[chosen], tail[chosen], heads))  # [rows, C]
        chosen = torch.cat(chosen_rows)  # one write into the scores for every group
        return scores.index_put_((chosen.unsqueeze(1), cols.unsqueeze(0)), torch.cat(fresh).to(scores.dtype))

    # ------------------------------------------------------------------ the twins
    def twin_loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """The batch's sensitive triples scored with twin relations and the people's attribute vectors added:
        softmax cross-entropy of the recorded value against the attribute's top values, per attribute. All
        attributes in one pass: each row is scored against every attribute's values, others' masked out."""
        if self.twin_relation is None:
            return {}
        attribute = self.relation_attribute.index_select(0, batch[:, 1])
        rows = (attribute >= 0).nonzero(as_tuple=True)[0]
        attribute, triples = attribute.index_select(0, rows), batch.index_select(0, rows)
        reversed_ = self.attribute_reversed.index_select(0, attribute)
        people = torch.where(reversed_, triples[:, 2], triples[:, 0])
        keys = attribute * self.num_entities + torch.where(reversed_, triples[:, 0], triples[:, 2])
        at = torch.searchsorted(self.top_value_key, keys).clamp_max_(self.top_value_key.numel() - 1)
        keep = ((self.top_value_key.index_select(0, at) == keys)
                & (self.person_row.index_select(0, people) >= 0)).nonzero(as_tuple=True)[0]
        if keep.numel() == 0:  # no sensitive triple whose value is among the top values
            return {}
        attribute, people, reversed_ = (x.index_select(0, keep) for x in (attribute, people, reversed_))
        target = self.top_value_column.index_select(0, at.index_select(0, keep))
        with torch.no_grad():  # the people's and values' own vectors learn nothing from the twins
            person, values = self.entity_vectors(people), self.entity_vectors(self.all_values)
        person = person + self.person_offsets(people)
        twin = self.twin_relation(attribute)
        scores = self.interaction.score_tails(person, twin, values)  # [P, all top values]
        if bool(reversed_.any()):  # S(value, twin, person) for attributes stored value -> person
            scores = torch.where(reversed_.unsqueeze(1), self.interaction.score_heads(twin, person, values), scores)
        scores = scores.masked_fill(self.top_value_attribute.unsqueeze(0) != attribute.unsqueeze(1), float("-inf"))
        losses = F.cross_entropy(scores, target, reduction="none")
        n_attr = len(self.attributes)
        counts = torch.bincount(attribute, minlength=n_attr)
        means = losses.new_zeros(n_attr).index_add(0, attribute, losses) / counts.clamp_min(1)
        return {f"twin_{self.attributes[k].name}": means[k] for k in counts.nonzero(as_tuple=True)[0].tolist()}

    def _init_twin_lookup(self, graph: "KnowledgeGraph") -> None:
        """What ``twin_loss`` looks each sensitive triple up in: the attribute of each relation (-1: none),
        whether it is stored value -> person, and the sorted keys attribute * N + value of the top values
        with each one's column among them and its attribute. Derived, not saved."""
        n_attr = len(self.attributes)
        relation_attribute = torch.full((graph.num_relations,), -1, dtype=torch.long)
        relation_attribute[[a.relation_id for a in self.attributes]] = torch.arange(n_attr)
        top_value_attribute = torch.cat([torch.full((getattr(self, f"values_{k}").numel(),), k, dtype=torch.long)
                                         for k in range(n_attr)])
        keys = top_value_attribute * graph.num_entities + self.all_values
        order = keys.argsort()
        for name, value in (("relation_attribute", relation_attribute),
                            ("attribute_reversed", torch.tensor([a.reversed for a in self.attributes], dtype=torch.bool)),
                            ("top_value_key", keys[order]), ("top_value_column", order),
                            ("top_value_attribute", top_value_attribute)):
            self.register_buffer(name, value, persistent=False)


def _saved_form(module, state_dict, prefix, local_metadata) -> None:
    """Saved weights hold one table of attribute vectors per attribute, and no twin relations (they are
    discarded after training)."""
    for key in [k for k in state_dict if k.startswith(prefix + TWIN_PREFIX)]:
        del state_dict[key]
    joined = state_dict.pop(prefix + "attribute_vectors")
    for k, part in enumerate(joined.split(module.attribute_vector_sizes)):
        state_dict[prefix + f"attribute_vectors.{k}"] = part.clone()
