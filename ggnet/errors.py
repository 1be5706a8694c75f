"""User-facing errors of `ggnet`: each message is one line saying what and where."""

from __future__ import annotations

from gg_research.errors import GGError


class GCodeError(GGError):
    """A G-code file that cannot be read or used; the message names the file (and line/layer)."""


class DatasetError(GGError):
    """A dataset folder or manifest that cannot be used; the message names the file, line and sample."""
