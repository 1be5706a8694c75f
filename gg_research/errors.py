"""The one error hierarchy of gg-research, at the ground: every package may import it.

A `GGError`'s message is meant for the user as it is: one line that says what and where.
The CLI prints it as `gg-research <command>: error: <message>` and exits 2; anything else is
an unexpected error (exit 1, traceback with -v). Each package keeps its own subclasses in its
`errors` module.
"""

from __future__ import annotations


class GGError(Exception):
    """Base of every error whose message is meant for the user as it is (one line)."""


class UserError(GGError):
    """A problem with the user's command-line input."""


class ConfigError(GGError):
    """A missing, unreadable or invalid gg-research.toml (message is one line)."""
