"""The demo world: a synthetic, seeded knowledge graph shaped like the people part of Wikidata (see ``world``)."""
from .world import *  # noqa: F401,F403  (its __all__)
from .world import __all__  # noqa: F401
