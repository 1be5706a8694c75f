"""User-facing errors of `loop`: each message is one line saying what and where."""

from __future__ import annotations

from gg_research.errors import GGError


class LoopLocked(GGError):
    """Another loop holds the workspace's lock."""


class GitError(GGError):
    """A git command failed, or the repository is not in a state the loop can use."""


class EditRefused(GGError):
    """A hypothesis whose edits fail a check; the reason goes back to the proposer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProposerExhausted(GGError):
    """The proposer has nothing more to propose (e.g. the end of a script): the loop stops cleanly."""


class ProposerError(GGError):
    """A proposer that cannot be set up (bad script file, no search space, ...)."""


class LoopSetupError(GGError):
    """The loop cannot start: a dirty mutable file, a used tag, a failed baseline, ..."""


class LoopAborted(GGError):
    """An unexpected error (disk full, a read-only ledger) stopped the loop after it cleaned up."""


class NoteError(GGError):
    """A note that cannot be added (empty, too long, or the file cannot be written)."""


class ExportError(GGError):
    """A tracker that cannot be written: its extra is missing, its target is unusable."""


class HypothesisError(GGError):
    """A proposer's output that is not a valid hypothesis (message is one line)."""
