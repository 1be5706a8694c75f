"""User-facing errors of `results`: each message is one line saying what and where."""

from __future__ import annotations

from gg_research.errors import GGError


class LedgerMissingError(GGError):
    """The workspace has no experiments.jsonl yet."""


class LedgerReadError(GGError):
    """The ledger exists but cannot be read at all (a folder, no permission)."""


class ReportWriteError(GGError):
    """The report's output folder cannot be created or written."""
