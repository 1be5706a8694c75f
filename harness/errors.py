"""User-facing errors of `harness`: each message is one line saying what and where."""

from __future__ import annotations

from gg_research.errors import GGError


class TrainingDiverged(GGError):
    """The training loss became NaN/inf or exploded; the run ends as a crash."""


class TrainContractError(GGError):
    """train.py broke its contract (no train(), wrong return type, wrong output shapes)."""


class NotComparable(GGError):
    """Two runs whose frozen inputs (validation split, harness, evaluation config) differ."""


class WorkspaceError(GGError):
    """A folder that cannot be made into (or used as) a gg-research workspace."""
