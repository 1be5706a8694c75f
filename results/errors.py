"""User-facing errors of `results`: each message is one line saying what and where."""

from __future__ import annotations


class GGError(Exception):
    """Base of results's errors whose message is meant for the user as it is."""


class LedgerMissingError(GGError):
    """The workspace has no experiments.jsonl yet."""


class LedgerReadError(GGError):
    """The ledger exists but cannot be read at all (a folder, no permission)."""


class ReportWriteError(GGError):
    """The report's output folder cannot be created or written."""


# The CLI prints these as one line (exit 2) instead of a traceback. Add subclasses here.
USER_ERRORS: tuple[type[BaseException], ...] = (GGError,)
