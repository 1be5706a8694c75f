"""The night exported to the trackers researchers open in the morning: MLflow, TensorBoard, Optuna.

`export(kind, ...)` writes every finished experiment of the ledger that the target does not hold
yet, so exporting twice adds nothing and the loop can call it after each experiment ([export] to).
Each tracker's library is an optional extra, imported only here and only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gg_research.config import EXPORTERS, Config
from gg_research.loop.errors import ExportError

# kind -> (the module that must import, the extra that installs it)
EXTRAS = {"mlflow": ("mlflow", "mlflow"), "tensorboard": ("tensorboard", "tensorboard"), "optuna": ("optuna", "optuna")}


@dataclass(frozen=True)
class Exported:
    kind: str
    target: str  # where it went: a tracking URI, a folder, a storage URL
    added: list[str]  # experiment ids written this time
    present: int  # finished experiments the target already held


def require(kind: str) -> None:
    """Raise a one-line ExportError naming the pip command when the tracker's library is missing."""
    module, extra = EXTRAS[kind]
    try:
        importlib.import_module(module)
    except ImportError:
        raise ExportError(f"export {kind}: the {module} package is not installed; "
                          f"pip install 'gg-research[{extra}]'") from None


def export(kind: str, workspace: Path, config: Config, tag: str | None = None, target: str | None = None) -> Exported:
    """Export the ledger's finished experiments (of `tag`, or all) to one tracker."""
    if kind not in EXPORTERS:
        raise ExportError(f"export: unknown tracker {kind!r}; one of {', '.join(EXPORTERS)}")
    require(kind)
    from gg_research.loop.export.night import NightRun, night_runs

    runs = night_runs(Path(workspace), config, tag)
    module = importlib.import_module(f"gg_research.loop.export.{kind}_out")
    write: Callable[[Path, Config, list[NightRun], str | None], Exported] = module.write
    try:
        return write(Path(workspace), config, runs, target)
    except OSError as exc:  # an unwritable folder, a full disk: one line, naming where
        where = exc.filename or target or "its default target under results/"
        raise ExportError(f"export {kind}: cannot write {where}: {exc.strerror or exc}") from None
