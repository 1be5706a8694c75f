"""User-facing errors of `retrieval`: each message is one line saying what and where."""

from __future__ import annotations

from gg_research.errors import GGError


class RerankerError(GGError):
    """The configured re-ranker folder cannot be loaded."""
