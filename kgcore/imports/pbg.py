"""PyTorch-BigGraph (PBG) checkpoints read as kgcore embeddings.

A PBG checkpoint folder holds ``config.json`` (PBG's ConfigSchema), ``checkpoint_version.txt`` (N),
``embeddings_<type>_<part>.v<N>.h5`` (dataset ``embeddings``, one per entity partition) and
``model.v<N>.h5`` (the relation operators, each dataset tagged with its ``state_dict_key``). The names of
the rows live in PBG's entity path: ``entity_names_<type>_<part>.json`` and, with dynamic relations,
``dynamic_rel_names.json``.

PBG scores an edge (u, r, v) as ``comparator(lhs_op_r(u), rhs_op_r(v))``. With the dot comparator:

- dynamic relations (one operator per side; ``torchbiggraph.model.MultiRelationEmbedder.forward``): tails
  are ranked by <g_r(u), v'> with the *lhs* operator on the head, heads by <u', h_r(v)> with the *rhs*
  operator on the tail.
  ``translation`` is then kgcore's ``transe-dot-reciprocal`` with the row [lhs translation, rhs translation]
  (<h + r, t> for tails, <t + r', c> for heads); ``none`` is ``distmult`` with relation vectors of ones;
  ``diagonal`` and ``complex_diagonal`` are ``distmult`` / ``complex`` only when both sides hold the same
  relation (diagonals equal; complex lhs = conj(rhs)), as DistMult and ComplEx have one vector per relation.
- one relation type per relation (no dynamic relations): only the rhs operator exists, every score is
  <u, f_r(v)>. ``diagonal`` is ``distmult``; ``complex_diagonal`` is ``complex`` with the conjugate of PBG's
  vector (<u, r v> = Re(u conj(r) conj(v))); ``none`` is ``distmult`` with ones. ``translation`` gives
  <u, v + r> = <u, v> + <u, r>, which no kgcore interaction scores.

Entity vectors are taken as PBG looks them up: rows longer than ``max_norm`` shortened to it, then the
global embedding added when ``global_emb`` is on. Refused, each in one error: another comparator, a
comparator bias, linear or affine operators, several or featurized entity types, missing files.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..extras import require
from .common import ImportedEmbeddings

SUPPORTED_OPERATORS = ("translation", "diagonal", "complex_diagonal", "none")


def read_json_file(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing; {what}.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); the checkpoint is damaged.") from exc


def checkpoint_version(folder: Path) -> int:
    path = folder / "checkpoint_version.txt"
    try:
        return int(path.read_text().strip())
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing; {folder} is not a finished PyTorch-BigGraph checkpoint "
                              "(give the config's checkpoint_path after training).") from exc
    except ValueError as exc:
        raise CheckpointError(f"{path} does not hold a version number; the checkpoint is damaged.") from exc


def names_folder(folder: Path, config: dict, entity_dir: str | os.PathLike | None, entity_type: str) -> Path:
    """Where PBG's entity name files are: ``entity_dir`` when given, else the config's entity_path, else the
    checkpoint folder itself."""
    candidates = [Path(entity_dir)] if entity_dir else [Path(config.get("entity_path") or folder), folder]
    for candidate in candidates:
        if (candidate / f"entity_names_{entity_type}_0.json").is_file():
            return candidate
    where = " or ".join(str(c) for c in candidates)
    raise CheckpointError(f"entity_names_{entity_type}_0.json is not in {where}; pass --entities with PBG's "
                          "entity path (the folder its converter wrote the name files to).")


def read_dataset(h5py, path: Path, name: str) -> np.ndarray:
    try:
        with h5py.File(path, "r") as handle:
            return np.asarray(handle[name][...])
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete.") from exc
    except (OSError, KeyError) as exc:
        raise CheckpointError(f"{path} has no readable {name!r} dataset ({exc}); the checkpoint is damaged.") from exc


def read_model_state(h5py, path: Path) -> dict[str, torch.Tensor]:
    """The model's parameters by their state_dict key (PBG stores them in a ``model`` group, each dataset
    tagged with the key)."""
    state: dict[str, torch.Tensor] = {}
    try:
        with h5py.File(path, "r") as handle:
            if "model" not in handle:
                return state

            def visit(name: str, item) -> None:
                if isinstance(item, h5py.Dataset):
                    key = item.attrs.get("state_dict_key", name.replace("/", "."))
                    state[key.decode() if isinstance(key, bytes) else str(key)] = torch.from_numpy(item[...])

            handle["model"].visititems(visit)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete.") from exc
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read as HDF5 ({exc}); the checkpoint is damaged.") from exc
    return state


def check_config(config: dict, path: Path) -> tuple[str, dict, list[dict], bool]:
    """The entity type, its settings, the relations and whether relations are dynamic; refuses what no
    kgcore interaction scores exactly."""
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} does not hold a PyTorch-BigGraph config.")
    entities = config.get("entities") or {}
    if len(entities) != 1:
        raise CheckpointError(f"{path} has {len(entities)} entity types ({', '.join(entities)}); kgcore imports "
                              "checkpoints with one entity type, as its graphs have one entity set.")
    entity_type, entity_config = next(iter(entities.items()))
    if entity_config.get("featurized"):
        raise CheckpointError(f"{path}: entity type {entity_type!r} is featurized; kgcore imports one vector "
                              "per entity, not features.")
    comparator = config.get("comparator", "cos")
    if comparator != "dot":
        raise CheckpointError(f"{path}: comparator {comparator!r} is not supported; kgcore's interactions "
                              "reproduce PyTorch-BigGraph's dot comparator only.")
    if config.get("bias"):
        raise CheckpointError(f"{path}: the comparator has a bias (bias: true), which no kgcore interaction "
                              "scores; import a model trained with bias: false.")
    relations = config.get("relations") or []
    if not relations:
        raise CheckpointError(f"{path} lists no relations.")
    operators = {r.get("operator", "none") for r in relations}
    unknown = operators - set(SUPPORTED_OPERATORS)
    if unknown:
        raise CheckpointError(f"{path}: operator {sorted(unknown)[0]!r} is not supported; kgcore imports "
                              f"{', '.join(SUPPORTED_OPERATORS)} with the dot comparator.")
    if len(operators) > 1:
        raise CheckpointError(f"{path}: relations use different operators ({', '.join(sorted(operators))}); "
                              "kgcore scores every relation with one interaction.")
    return entity_type, entity_config, relations, bool(config.get("dynamic_relations"))


def entity_table(h5py, folder: Path, names_dir: Path, entity_type: str, partitions: int,
                 version: int) -> tuple[list[str], np.ndarray]:
    """Names and vectors of every partition of the entity type, in partition order."""
    names: list[str] = []
    tables = []
    for part in range(partitions):
        part_names = read_json_file(names_dir / f"entity_names_{entity_type}_{part}.json",
                                    "PBG's entity path must hold a name file per partition")
        table = read_dataset(h5py, folder / f"embeddings_{entity_type}_{part}.v{version}.h5", "embeddings")
        if table.ndim != 2 or table.shape[0] != len(part_names):
            raise CheckpointError(f"embeddings_{entity_type}_{part}.v{version}.h5 holds {table.shape[0]} rows "
                                  f"but entity_names_{entity_type}_{part}.json names {len(part_names)}; the name "
                                  "files belong to another conversion.")
        names += [str(n) for n in part_names]
        tables.append(table)
    return names, np.concatenate(tables).astype(np.float32, copy=False)


def lookup_vectors(vectors: torch.Tensor, config: dict, state: dict[str, torch.Tensor],
                   entity_type: str) -> torch.Tensor:
    """Entity vectors as PBG's model sees them: rows renormalised to ``max_norm`` (``F.embedding``'s rule),
    then the entity type's global embedding added."""
    max_norm = config.get("max_norm")
    if max_norm:
        norms = vectors.norm(dim=1, keepdim=True)
        vectors = torch.where(norms > max_norm, vectors * (max_norm / (norms + 1e-7)), vectors)
    if config.get("global_emb"):
        key = f"global_embs.emb_{entity_type}"
        if key in state:
            vectors = vectors + state[key]
    return vectors


def param(state: dict[str, torch.Tensor], key: str, path: Path) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f"{path} lacks the parameter {key}; the model file does not match its config.")
    return state[key].float()


def dynamic_relations(operator: str, state: dict, count: int, dim: int, path: Path) -> tuple[str, torch.Tensor]:
    """(interaction, relation table) for dynamic relations: lhs operator for tails, rhs for heads."""
    if operator == "none":
        return "distmult", torch.ones(count, dim)
    if operator == "translation":
        lhs = param(state, "lhs_operators.0.translations", path)
        rhs = param(state, "rhs_operators.0.translations", path)
        return "transe-dot-reciprocal", torch.cat([lhs, rhs], dim=1)
    if operator == "diagonal":
        lhs = param(state, "lhs_operators.0.diagonals", path)
        if not torch.equal(lhs, param(state, "rhs_operators.0.diagonals", path)):
            raise CheckpointError(f"{path}: the diagonal operators of the two sides differ, so heads and tails "
                                  "are scored with two vectors per relation, which DistMult cannot hold; no exact "
                                  "import exists.")
        return "distmult", lhs
    real = param(state, "lhs_operators.0.real", path)
    imag = param(state, "lhs_operators.0.imag", path)
    if not (torch.equal(real, param(state, "rhs_operators.0.real", path))
            and torch.equal(imag, -param(state, "rhs_operators.0.imag", path))):
        raise CheckpointError(f"{path}: the complex_diagonal operators of the two sides are not conjugates, so "
                              "heads and tails are scored with two vectors per relation, which ComplEx cannot "
                              "hold; no exact import exists.")
    return "complex", torch.cat([real, imag], dim=1)


def static_relations(operator: str, state: dict, count: int, dim: int, path: Path) -> tuple[str, torch.Tensor]:
    """(interaction, relation table) for one relation type per relation: score <u, f_r(v)>."""
    if operator == "none":
        return "distmult", torch.ones(count, dim)
    if operator == "translation":
        raise CheckpointError(f"{path}: translation without dynamic relations scores <u, v + r>, which no kgcore "
                              "interaction reproduces; train PBG with dynamic_relations: true.")
    if operator == "diagonal":
        return "distmult", torch.stack([param(state, f"rhs_operators.{i}.diagonal", path) for i in range(count)])
    real = torch.stack([param(state, f"rhs_operators.{i}.real", path) for i in range(count)])
    imag = torch.stack([param(state, f"rhs_operators.{i}.imag", path) for i in range(count)])
    return "complex", torch.cat([real, -imag], dim=1)  # <u, r v> = Re(u conj(r) conj(v))


def read_pbg_checkpoint(checkpoint_dir: str | os.PathLike,
                        entity_dir: str | os.PathLike | None = None) -> ImportedEmbeddings:
    """The embeddings of the PBG checkpoint in ``checkpoint_dir`` (its latest version), with the kgcore
    interaction that scores them as PBG does; ``entity_dir`` is PBG's entity path when it has moved."""
    h5py = require("h5py")
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder; give the checkpoint_path of a PyTorch-BigGraph run.")
    config = read_json_file(folder / "config.json", "PBG writes it into every checkpoint folder")
    entity_type, entity_config, relations, dynamic = check_config(config, folder / "config.json")
    version = checkpoint_version(folder)
    names_dir = names_folder(folder, config, entity_dir, entity_type)
    partitions = int(entity_config.get("num_partitions", 1))
    entity_names, table = entity_table(h5py, folder, names_dir, entity_type, partitions, version)
    dim = int(config.get("dimension", table.shape[1]))
    if table.shape[1] != dim:
        raise CheckpointError(f"{folder}: embeddings have {table.shape[1]} columns but the config says dimension "
                              f"{dim}; the checkpoint is damaged.")
    model_file = folder / f"model.v{version}.h5"
    state = read_model_state(h5py, model_file)
    operator = relations[0].get("operator", "none")
    if dynamic:
        relation_names = [str(n) for n in read_json_file(
            names_dir / "dynamic_rel_names.json", "PBG's converter writes it beside the entity names")]
        interaction, relation_table = dynamic_relations(operator, state, len(relation_names), dim, model_file)
    else:
        relation_names = [str(r["name"]) for r in relations]
        interaction, relation_table = static_relations(operator, state, len(relation_names), dim, model_file)
    if relation_table.shape[0] != len(relation_names):
        raise CheckpointError(f"{model_file} holds {relation_table.shape[0]} relations but "
                              f"{len(relation_names)} are named; the name file belongs to another conversion.")
    entities = lookup_vectors(torch.from_numpy(table), config, state, entity_type)
    source = {"engine": "pytorch-biggraph", "path": str(folder.resolve()), "version": version,
              "operator": operator, "comparator": "dot", "dynamic_relations": dynamic,
              "partitions": partitions}
    return ImportedEmbeddings(interaction=interaction, entity_names=entity_names, entities=entities,
                              relation_names=relation_names, relations=relation_table, source=source)
