"""One exception type for every problem a user can fix, so the CLI and dashboard show a message, not a traceback."""
from __future__ import annotations


class KGError(Exception):
    """A problem with the user's input (file, spec, checkpoint) that they can fix.

    The message names the file/line when known, what is wrong and what to do.
    """


class DataError(KGError):
    """Malformed, empty or inconsistent knowledge-graph data."""


class SpecError(KGError):
    """A dataset spec names relations or values the graph does not have."""


class CheckpointError(KGError):
    """A run folder or checkpoint that is missing, corrupted or does not match its graph."""
