"""Models saved by PyKEEN's pipeline (``result.save_to_directory``) read as kgcore embeddings.

The folder holds ``trained_model.pkl`` (the whole model, written by ``torch.save(model)``) and
``training_triples/`` with ``entity_to_id.tsv.gz`` and ``relation_to_id.tsv.gz`` (columns ``id``, ``label``).

Unpickling a model runs whatever code the file names, so ``trained_model.pkl`` is opened only with
``trust_pickle`` (``--trust-pickle``). A plain state dict, ``state_dict.pt`` beside it (written with
``torch.save(result.model.state_dict(), DIR / "state_dict.pt")``), is read instead whenever it exists,
safely (``weights_only``) and without PyKEEN installed; as a state dict does not say which score the model
used, the interaction is then given by the caller.

Scores that map exactly (PyKEEN's interaction functions, ``pykeen.nn.functional``):

- TransE: -||h + r - t||_p with p = 1 or 2 (``power_norm`` off) -> ``transe-l1`` / ``transe-l2``;
- DistMult: sum(h * r * t) -> ``distmult``;
- ComplEx: Re(<h, r, conj(t)>) over complex vectors -> ``complex``, real parts first, then imaginary
  parts (PyKEEN keeps complex tensors; its state dict stores each number as an interleaved (re, im) pair).

Models trained with inverse triples (``create_inverse_triples``) predict heads through a relation of their
own, which these interactions lack: refused, like every other PyKEEN model.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pandas as pd
import torch

from ..errors import CheckpointError
from ..extras import require
from .common import ImportedEmbeddings

STATE_DICT = "state_dict.pt"
PICKLE = "trained_model.pkl"
INTERACTIONS = ("transe-l1", "transe-l2", "distmult", "complex")
ENTITY_KEY = "entity_representations.0._embeddings.weight"
RELATION_KEY = "relation_representations.0._embeddings.weight"


def read_id_map(path: Path) -> list[str]:
    """Labels in id order from one of PyKEEN's ``*_to_id.tsv.gz`` files."""
    try:
        frame = pd.read_csv(path, sep="\t", dtype={"label": str}, keep_default_na=False)
        ids = frame["id"].astype(int).tolist()
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing; save the result with save_to_directory(..., "
                              "save_training=True), which writes the id maps.") from exc
    except (KeyError, ValueError, OSError, pd.errors.ParserError, EOFError) as exc:
        raise CheckpointError(f"{path} is not a PyKEEN id map (columns id, label): {exc}.") from exc
    if sorted(ids) != list(range(len(ids))):
        raise CheckpointError(f"{path} does not number its labels 0..{len(ids) - 1}; the file is damaged.")
    names = [""] * len(ids)
    for i, label in zip(ids, frame["label"]):
        names[i] = label
    return names


def real_layout(x: torch.Tensor) -> torch.Tensor:
    """Complex rows as kgcore stores them: [real parts, imaginary parts]."""
    return torch.cat([x.real, x.imag], dim=-1) if x.is_complex() else x


def interaction_of(model) -> str:
    """The kgcore interaction whose score equals the PyKEEN model's, or a refusal."""
    name = type(model).__name__
    interaction = getattr(model, "interaction", None)
    kind = type(interaction).__name__
    if getattr(model, "use_inverse_triples", False):
        raise CheckpointError(f"the PyKEEN {name} model was trained with inverse triples (it predicts heads "
                              "through inverse relations); no kgcore interaction scores that exactly.")
    if kind == "TransEInteraction":
        p = getattr(interaction, "p", None)
        if getattr(interaction, "power_norm", False) or p not in (1, 2):
            raise CheckpointError(f"the PyKEEN TransE model scores with p={p}, power_norm="
                                  f"{getattr(interaction, 'power_norm', None)}; kgcore imports -||h + r - t|| "
                                  "with p = 1 or 2 and power_norm off.")
        return f"transe-l{p}"
    if kind == "DistMultInteraction":
        return "distmult"
    if kind == "ComplExInteraction":
        return "complex"
    raise CheckpointError(f"the PyKEEN model {name} (interaction {kind}) has no exact kgcore interaction; "
                          f"kgcore imports TransE (L1/L2), DistMult and ComplEx.")


def tables_from_pickle(path: Path) -> tuple[str, torch.Tensor, torch.Tensor]:
    """(interaction, entities, relations) of the pickled model, as its representations output them."""
    require("pykeen")
    try:
        model = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing; give a folder written by result.save_to_directory.") from exc
    except (pickle.UnpicklingError, EOFError, RuntimeError, AttributeError, ModuleNotFoundError) as exc:
        raise CheckpointError(f"{path} cannot be unpickled ({type(exc).__name__}: {exc}); it was written by "
                              "another PyKEEN version or is damaged.") from exc
    interaction = interaction_of(model)
    if len(model.entity_representations) != 1 or len(model.relation_representations) != 1:
        raise CheckpointError(f"{path}: the model has several representations per entity or relation; kgcore "
                              "imports one vector each.")
    with torch.no_grad():
        entities = real_layout(model.entity_representations[0](indices=None))
        relations = real_layout(model.relation_representations[0](indices=None))
    return interaction, entities, relations


def tables_from_state_dict(path: Path, interaction: str | None) -> tuple[str, torch.Tensor, torch.Tensor]:
    """(interaction, entities, relations) from a weights-only state dict of one of the four models."""
    if interaction not in INTERACTIONS:
        raise CheckpointError(f"{path} is a state dict, which does not say which score the model used; name it "
                              f"with --interaction ({', '.join(INTERACTIONS)}).")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        entities, relations = state[ENTITY_KEY], state[RELATION_KEY]
    except (pickle.UnpicklingError, EOFError, RuntimeError, OSError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a weights-only state dict ({type(exc).__name__}); write it with "
                              "torch.save(result.model.state_dict(), path).") from exc
    except KeyError as exc:
        raise CheckpointError(f"{path} lacks {exc}; it is not the state dict of a PyKEEN TransE, DistMult or "
                              "ComplEx model.") from exc
    if interaction == "complex":  # PyKEEN stores complex numbers as interleaved (re, im) pairs
        entities = real_layout(torch.view_as_complex(entities.reshape(entities.shape[0], -1, 2).contiguous()))
        relations = real_layout(torch.view_as_complex(relations.reshape(relations.shape[0], -1, 2).contiguous()))
    return interaction, entities, relations


def read_pykeen_result(result_dir: str | os.PathLike, trust_pickle: bool = False,
                       interaction: str | None = None) -> ImportedEmbeddings:
    """The embeddings of a PyKEEN pipeline result folder: its ``state_dict.pt`` when present (``interaction``
    names its score), else ``trained_model.pkl`` when ``trust_pickle``."""
    folder = Path(result_dir)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder; give the directory PyKEEN's save_to_directory wrote.")
    if (folder / STATE_DICT).is_file():
        kind, entities, relations = tables_from_state_dict(folder / STATE_DICT, interaction)
        loaded_from = STATE_DICT
    elif not (folder / PICKLE).is_file():
        raise CheckpointError(f"{folder} holds neither {STATE_DICT} nor {PICKLE}; give the directory PyKEEN's "
                              "save_to_directory wrote.")
    elif not trust_pickle:
        raise CheckpointError(f"{folder / PICKLE} is a pickled model, and loading it runs code the file names: "
                              "pass --trust-pickle if you trust its author, or save "
                              f"torch.save(result.model.state_dict(), '{folder / STATE_DICT}') and pass "
                              "--interaction.")
    else:
        kind, entities, relations = tables_from_pickle(folder / PICKLE)
        loaded_from = PICKLE
    entity_names = read_id_map(folder / "training_triples" / "entity_to_id.tsv.gz")
    relation_names = read_id_map(folder / "training_triples" / "relation_to_id.tsv.gz")
    if entities.shape[0] != len(entity_names) or relations.shape[0] != len(relation_names):
        raise CheckpointError(f"{folder}: the model has {entities.shape[0]} entities and {relations.shape[0]} "
                              f"relations but the id maps name {len(entity_names)} and {len(relation_names)}.")
    source = {"engine": "pykeen", "path": str(folder.resolve()), "file": loaded_from}
    return ImportedEmbeddings(interaction=kind, entity_names=entity_names, entities=entities.float(),
                              relation_names=relation_names, relations=relations.float(), source=source)
