"""The demo world: a synthetic, seeded knowledge graph shaped like the people part of Wikidata.

It exists so that the package (and the dashboard) can show real results offline, without shipping
FB15k-237. Everything in it is invented (the countries, cities, organisations, religions, ethnic groups and
people; any resemblance of a generated name to a real person is coincidental) except the skew it is built
to show: each profession's share of women, from published figures.

- ``skews``: the sourced table of profession-by-gender shares and the whitelist of legitimate skews.
- ``vocabulary``: the world's relations, gender values and spec, and the invented names it draws from.
- ``config``: a world's settings (``DemoWorldConfig``) and the profession quotas they imply.
- ``world``: the seeded generator (``generate_demo_world``) and the cached ``KnowledgeGraph`` of it.
- ``export``: the world written to a folder (``write_demo_world``) and ``world_summary``.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from .config import GRAPH_OVERVIEW_FILE, DemoWorldConfig, profession_quotas
from .skews import (DEFAULT_WHITELIST, GENDER_RATIO_SOURCES, PROFESSION_SKEWS, PROFESSIONS, ProfessionSkew,
                    expected_female_share, skew_table)
from .vocabulary import DEMO_SPEC, SYNTHETIC_NOTICE, occupation_id

# The generator and the export build a KnowledgeGraph, and with it import torch: they load on first use, so
# the settings, the skews and the notice (which the dashboard's first page reads) stay free of it.
_LAZY = {"generate_demo_world": "world", "demo_graph": "world", "load_demo_source": "world",
         "world_summary": "export", "write_demo_world": "export"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DemoWorldConfig", "ProfessionSkew", "PROFESSION_SKEWS", "PROFESSIONS", "DEFAULT_WHITELIST", "DEMO_SPEC",
    "SYNTHETIC_NOTICE", "GENDER_RATIO_SOURCES", "generate_demo_world", "demo_graph", "load_demo_source",
    "write_demo_world", "profession_quotas", "skew_table", "expected_female_share", "world_summary",
    "occupation_id", "GRAPH_OVERVIEW_FILE",
]
