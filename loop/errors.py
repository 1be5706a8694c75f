"""User-facing errors of `loop`: each message is one line saying what and where."""

from __future__ import annotations


class GGError(Exception):
    """Base of loop's errors whose message is meant for the user as it is."""


# The CLI prints these as one line (exit 2) instead of a traceback. Add subclasses here.
USER_ERRORS: tuple[type[BaseException], ...] = (GGError,)
