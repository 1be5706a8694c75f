"""The night as TensorBoard event files: a run folder per experiment (`<dir>/<tag>/<id>`), holding
its training curves (`curve/<series>` by step) and its final figures (`metrics/<name>` at the last
step), with its title, status, reason and curve reading as text.

An experiment whose folder already holds an event file is not written again.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from gg_research.config import Config
from gg_research.loop.export import Exported
from gg_research.loop.export.night import NightRun
from gg_research.workspace_map import WorkspaceMap

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter


def default_dir(workspace: Path) -> Path:
    return WorkspaceMap(workspace).tensorboard


def write(workspace: Path, config: Config, runs: list[NightRun], target: str | None) -> Exported:
    from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package (the extra)

    root = Path(target or config.export.tensorboard_dir or default_dir(workspace))
    if not root.is_absolute():
        root = workspace / root
    added, present = [], 0
    for run in runs:
        folder = root / run.tag / run.id
        if folder.is_dir() and any(folder.glob("events.out.tfevents.*")):
            present += 1
            continue
        with SummaryWriter(log_dir=str(folder)) as writer:
            _write_run(writer, run)
        added.append(run.id)
    return Exported("tensorboard", str(root), added, present)


def _write_run(writer: SummaryWriter, run: NightRun) -> None:
    e = run.exp
    start = e.started_at.timestamp() if e.started_at else None
    last = 0
    if run.curve is not None:
        for name, values in run.curve.series.items():
            for step, seconds, value in zip(run.curve.step, run.curve.seconds, values):
                if value is not None and math.isfinite(value):
                    writer.add_scalar(f"curve/{name}", value, step, walltime=None if start is None else start + seconds)
        last = run.curve.step[-1]
    end = e.ended_at.timestamp() if e.ended_at else start
    for name, value in {**e.aux, **e.metrics}.items():
        if math.isfinite(value):
            writer.add_scalar(f"metrics/{name}", value, last, walltime=end)
    lines = [f"**{run.id}** {e.title}", f"status: {e.status}" + (f" — {e.reason}" if e.reason else "")]
    if run.reading:
        lines.append(f"curve: {run.reading}")
    if run.knobs:
        lines.append("knobs: " + ", ".join(f"{k} = {v}" for k, v in run.knobs.items()))
    writer.add_text("experiment", "\n\n".join(lines), last, walltime=end)
