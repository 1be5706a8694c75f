"""The one box of a run, for train.py under the harness and for a `[run] command` alike.

A run's box (harness.sandbox builds it with bubblewrap) is derived here, once, from the
workspace's map: its code view, the folders it may read, its output folder, and what it must
never show (workspace_map.box_hidden: the state, ledger and repository of the workspace and of
the workspace a parallel loop's worktree came from, the synthetic data, train.py's dataset).
Without bubblewrap, or with `[run] sandbox = "off"`, a run is not boxed and the user is warned.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gg_research.config import Config
from gg_research.harness.errors import TrainContractError
from gg_research.harness.limits import RunLimits
from gg_research.harness.outputs import discard
from gg_research.harness.sandbox import (BOX_TMP, Box, bwrap_argv, bwrap_works, code_view, environment_paths,
                                         mount_points, scratch_dir, stage_code)
from gg_research.workspace_map import WorkspaceMap, box_hidden

INSTALL_BWRAP = "sudo apt install bubblewrap"


@dataclass(frozen=True)
class Isolation:
    """How runs are boxed on this machine, and the warning a user gets when they are not."""

    bwrap: bool
    warning: str | None

    @classmethod
    def of(cls, config: Config) -> Isolation:
        mode = config.run.sandbox
        if mode == "off":
            return cls(False, "[gg-research] warning: runs are NOT isolated ([run] sandbox = \"off\"): train.py can "
                              "read every file you can (labels included), reach the network and write anywhere")
        why = bwrap_works()
        if why is None:
            return cls(True, None)
        if mode == "bwrap":
            raise TrainContractError(f"[run] sandbox = \"bwrap\" but {why}")
        return cls(False, f"[gg-research] warning: runs are NOT isolated: {why}. train.py can read every file you "
                          f"can (labels included), reach the network and write anywhere. Install bubblewrap "
                          f"({INSTALL_BWRAP}), or set [run] sandbox = \"bwrap\" to refuse to run without it")

    @property
    def label(self) -> str:
        return "bubblewrap" if self.bwrap else "none"


class RunBox:
    """The box of one run writing to `out`: `inputs` are the read-only folders the parent made for it
    (the trainer's view), `dataset` the folder of train.py's labels (None for a `[run] command`).

    `wrap` turns the run's command line into the boxed one; `home` is its HOME and TMPDIR. The code
    view is made with the box and filled by `stage`, when the run starts; `close` removes it."""

    def __init__(self, workspace: Path, config: Config, *, out: Path, inputs: tuple[Path, ...] = (),
                 dataset: Path | None = None) -> None:
        self.workspace = Path(workspace).resolve()
        self.config = config
        self.isolation = Isolation.of(config)
        self.hidden = box_hidden(self.workspace, dataset)
        self.home: Path | str = scratch_dir(out)
        self.code: Path | None = None
        self.box: Box | None = None
        if not self.isolation.bwrap:
            return
        self.home = BOX_TMP
        readable = tuple(extra_readable(self.workspace, config))
        views = WorkspaceMap(self.workspace).code_views
        views.mkdir(parents=True, exist_ok=True)
        self.code = Path(tempfile.mkdtemp(prefix="code-", dir=views))
        # The mount points of the run's own folders under the workspace: a read-only view cannot have them made later.
        mount_points(self.code, self.workspace, [out, *inputs, *readable, *environment_paths()])
        self.box = Box(workdir=self.workspace, code_dir=self.code, readable=readable, inputs=inputs, writable=(out,),
                       hidden=tuple(self.hidden), gpu=config.run.device != "cpu")

    def wrap(self, argv: list[str]) -> list[str]:
        return argv if self.box is None else bwrap_argv(argv, self.box)

    def stage(self) -> None:
        """The workspace's code as it is now (tracked files and untracked source, never a hidden path),
        where the boxed run reads it: a run started ahead of its experiment sees the experiment's files."""
        if self.code is not None:
            stage_code(self.code, self.workspace,
                       code_view(self.workspace, self.hidden, self.config.workspace.mutable))

    def close(self) -> None:
        if self.code is not None:
            discard(self.code)


def extra_readable(workspace: Path, config: Config) -> list[Path]:
    """The existing folders of `[run] readable`, resolved (relative ones against the workspace)."""
    return [p for p in (_user_path(workspace, raw) for raw in config.run.readable) if p.exists()]


def _user_path(workspace: Path, raw: str) -> Path:
    path = Path(raw).expanduser()
    return (path if path.is_absolute() else Path(workspace) / path).resolve()


def run_limits(config: Config) -> RunLimits:
    return RunLimits(memory_gb(config), int(config.run.max_output_mb * 2**20))


def memory_gb(config: Config) -> float:
    if config.run.memory_gb > 0:
        return config.run.memory_gb
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return round(0.8 * total, 1)  # leave the machine (and the loop) room to breathe
