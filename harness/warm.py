"""Starting the child that runs train.py: in the sandbox, with the data view loaded, waiting.

A child is started ahead of its run (the loop starts the next one while the current run
trains, so start-up leaves the iteration's critical path); a cold run starts one and uses it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gg_research.config import Config
from gg_research.harness.data import data_home, origin_workspace
from gg_research.harness.errors import TrainContractError
from gg_research.harness.feed import FeedServer, pair
from gg_research.harness.limits import RunLimits
from gg_research.harness.outputs import discard
from gg_research.harness.process import ChildProcess
from gg_research.harness.sandbox import (BOX_TMP, Box, bwrap_argv, bwrap_works, child_env, code_view, environment_paths,
                                         mount_points, scratch_dir, stage_code)


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


INSTALL_BWRAP = "sudo apt install bubblewrap"


def run_box(workspace: Path, config: Config, *, out: Path, readable: list[Path], code_dir: Path) -> Box:
    """The box of one run, for train.py under the harness and for a `[run] command` alike."""
    return Box(workdir=Path(workspace).resolve(), code_dir=code_dir,
               readable=tuple([*readable, *extra_readable(workspace, config)]), writable=(out,),
               gpu=config.run.device != "cpu")


def extra_readable(workspace: Path, config: Config) -> list[Path]:
    return [p for p in (_user_path(workspace, raw) for raw in config.run.readable) if p.exists()]


class CodeView:
    """The folder a boxed run sees as its workspace: made when the box is built (with the mount
    points of the run's own folders), filled with the code view when the run starts (`stage`)."""

    def __init__(self, workspace: Path, config: Config, hidden: list[Path], mounts: list[Path]) -> None:
        self.workspace, self.config, self.hidden = Path(workspace).resolve(), config, hidden
        root = self.workspace / ".gg" / "code"
        root.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="code-", dir=root))
        mount_points(self.dir, self.workspace, [*mounts, *extra_readable(workspace, config), *environment_paths()])

    def stage(self) -> None:
        stage_code(self.dir, self.workspace, code_view(self.workspace, self.hidden, self.config.workspace.mutable))

    def close(self) -> None:
        discard(self.dir)


def _user_path(workspace: Path, raw: str) -> Path:
    path = Path(raw).expanduser()
    return (path if path.is_absolute() else Path(workspace) / path).resolve()


def run_limits(config: Config) -> RunLimits:
    return RunLimits(memory_gb(config), int(config.run.max_output_mb * 2**20))


class HarnessChild:
    """A harness child started ahead of its run: libraries imported, the data view loaded.

    The loop starts the next one while the current run trains, so start-up leaves the
    iteration's critical path; a cold run starts one and uses it at once.
    """

    def __init__(self, workspace: Path, config: Config, view_dir: Path, hidden: list[Path]) -> None:
        """`view_dir`: the trainer's view (harness.scorer.TrainerView's folder): the box holds its
        inputs only; the training split is served through `feed`. `hidden`: folders that must
        never be in the box (hidden_paths), even inside an allowed one."""
        from gg_research.harness.scorer import TrainerView

        self.workspace = Path(workspace).resolve()
        self.key = config_key(config, view_dir)
        inputs = TrainerView(view_dir).inputs
        self.isolation = Isolation.of(config)
        runs = self.workspace / ".gg" / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        self.out = Path(tempfile.mkdtemp(prefix="run-", dir=runs))
        config_json = self.out / "config.json"
        config_json.write_text(config.model_dump_json(indent=2), encoding="utf-8")
        # -P: the workspace is not on the import path before the run starts (a module there named
        # like a library the child preloads would run off the clock); the child adds it at go.
        ours, theirs = pair()
        self.feed = FeedServer(ours)
        argv = [sys.executable, "-P", "-m", "gg_research.harness.child", "--workspace", str(self.workspace),
                "--view", str(inputs), "--out", str(self.out), "--config", str(config_json),
                "--feed-fd", str(theirs.fileno())]
        home: Path | str = scratch_dir(self.out)
        self.code: CodeView | None = None
        if self.isolation.bwrap:
            home = BOX_TMP
            self.code = CodeView(self.workspace, config, hidden, [self.out, inputs])
            argv = bwrap_argv(argv, run_box(self.workspace, config, out=self.out, readable=[inputs],
                                            code_dir=self.code.dir))
        env = child_env({"GG_WORKSPACE": str(self.workspace), "GG_RUN_DIR": str(self.out)}, home)
        try:
            self.child = ChildProcess(argv, cwd=self.workspace, env=env, limits=run_limits(config),
                                      max_log_bytes=int(config.run.max_log_mb * 2**20), stdin=True,
                                      pass_fds=(theirs.fileno(),))
        except BaseException:
            self.feed.close()
            raise
        finally:
            theirs.close()  # the child holds its end; when it exits, the feed ends

    def usable_for(self, config: Config, view_dir: Path) -> bool:
        return self.child.alive() and self.key == config_key(config, view_dir)

    def stage(self) -> None:
        """Put the workspace's code, as it is now, where the boxed child will read it at go."""
        if self.code is not None:
            self.code.stage()

    def close(self) -> None:
        try:
            self.child.close()
        finally:
            self.feed.close()
            discard(self.out)
            if self.code is not None:
                self.code.close()


def config_key(config: Config, view_dir: Path) -> str:
    """What a prestarted child was started with: the config but the per-run budget and seed."""
    data = config.model_dump(mode="json")
    data["run"].pop("budget_s", None)
    data["run"].pop("seed", None)
    return json.dumps({"config": data, "view": str(view_dir)}, sort_keys=True)


def memory_gb(config: Config) -> float:
    if config.run.memory_gb > 0:
        return config.run.memory_gb
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return round(0.8 * total, 1)  # leave the machine (and the loop) room to breathe


def hidden_paths(workspace: Path, root: Path | None) -> list[Path]:
    """What must never be in a run's box, even inside a folder it may read: runtime state, the
    ledger, git, and the dataset folder (the box is an allow-list; these guard its edges).

    A parallel loop runs each experiment in a git worktree outside the workspace it was made
    from; that workspace's state, ledger and repository are hidden as well.
    """
    homes = [workspace] + [main for main in [origin_workspace(workspace)] if main is not None]
    hidden = [home / name for home in homes for name in (".gg", "results", ".git")]
    hidden += [p for p in (data_home(),) if p.exists()]  # every workspace's synthetic labels
    return hidden + ([root.resolve()] if root is not None and root.exists() else [])
