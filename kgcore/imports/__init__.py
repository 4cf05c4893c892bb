"""Models trained by other engines, turned into ordinary kgcore runs: PyTorch-BigGraph checkpoints
(``kgcore.imports.pbg``) and PyKEEN pipeline results (``kgcore.imports.pykeen``).

Each reader returns ``ImportedEmbeddings`` (entity and relation tables with their names, and the kgcore
interaction whose score equals the engine's); ``save_imported_run`` maps the names onto a graph's ids and
writes the run with ``kgcore.runs.save_run``, so ``evaluate``, ``bias``, the probes and the dashboard load
it like a trained one. A model whose score no interaction reproduces exactly is refused, never
approximated.
"""
from __future__ import annotations

from .common import ImportedEmbeddings, build_imported_model, save_imported_run

__all__ = ["ImportedEmbeddings", "build_imported_model", "save_imported_run"]
