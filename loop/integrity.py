"""The loop's integrity checks: frozen inputs unchanged, commits touching only mutable files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.harness.errors import NotComparable
from gg_research.harness.integrity import check_comparable
from gg_research.harness.integrity import frozen_fingerprint as harness_fingerprint
from gg_research.loop.git import Git


def frozen_fingerprint(workspace: Path, config: Config) -> dict[str, str] | None:
    """The harness's fingerprint of the frozen inputs (None for a `[run] command`).

    A `[run] command` evaluates itself, so the harness's dataset and metric code are not its
    frozen inputs; its own files are guarded by the commit and work-tree checks instead.
    """
    if config.run.command:
        return None
    return dict(harness_fingerprint(workspace, config))


def fingerprint_problem(expected: dict[str, Any] | None, got: dict[str, Any] | None) -> str | None:
    """Why two fingerprints are not comparable, or None (also None when either is unknown)."""
    if not expected or not got:
        return None
    try:
        check_comparable(expected, got)
    except NotComparable as exc:  # its message names what differs
        return f"frozen inputs changed: {exc}"
    return None


def commit_problem(git: Git, parent: str, commit: str, mutable: list[str]) -> str | None:
    outside = [p for p in git.changed_files(parent, commit) if p not in mutable]
    return f"commit touches frozen files: {', '.join(outside)}" if outside else None


def worktree_problem(git: Git) -> str | None:
    """Tracked files a run changed after the commit (a train.py that writes frozen files)."""
    changed = git.modified_tracked()
    return f"the run modified tracked files: {', '.join(changed)}" if changed else None
