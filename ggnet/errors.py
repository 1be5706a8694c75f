"""User-facing errors of `ggnet`: each message is one line saying what and where."""

from __future__ import annotations


class GGError(Exception):
    """Base of ggnet's errors whose message is meant for the user as it is."""


# The CLI prints these as one line (exit 2) instead of a traceback. Add subclasses here.
USER_ERRORS: tuple[type[BaseException], ...] = (GGError,)


class GCodeError(GGError):
    """A G-code file that cannot be read or used; the message names the file (and line/layer)."""


USER_ERRORS = (*USER_ERRORS, GCodeError)


class DatasetError(GGError):
    """A dataset folder or manifest that cannot be used; the message names the file, line and sample."""


USER_ERRORS = (*USER_ERRORS, DatasetError)
