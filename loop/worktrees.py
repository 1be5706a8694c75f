"""The git worktrees of a parallel loop: one per experiment in flight, checked out at its parent commit.

Each experiment's edit is written, committed and run in its own worktree, so runs never see one
another's edits and the workspace itself stays on the branch tip. The worktrees lie outside the
workspace (WORKSPACE.worktrees by default): a run's box hides the workspace's state (.gg, results,
.git), and a worktree inside it would be hidden with it. What a run needs but git does not carry,
the cached synthetic data and a dataset folder given by a relative path, is linked in from the
workspace.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gg_research.config import Config
from gg_research.loop.git import Git, GitError


class Worktrees:
    def __init__(self, git: Git, workspace: Path, config: Config, tag: str) -> None:
        self.git = git
        self.ws = Path(workspace).resolve()
        self.cfg = config
        base = Path(config.parallel.worktrees).expanduser() if config.parallel.worktrees else \
            self.ws.parent / f"{self.ws.name}.worktrees"
        self.root = (base if base.is_absolute() else self.ws / base) / tag
        self._n = 0

    def add(self, commit: str) -> Path:
        """A new worktree, detached at `commit`, with the workspace's data linked in."""
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            self._n += 1
            path = self.root / f"slot{self._n:04d}"
            if not path.exists():
                break
        self.git("worktree", "add", "--detach", "--quiet", str(path), commit)
        self._link_data(path)
        return path

    def move(self, path: Path, commit: str) -> None:
        """Check `path` out at `commit` again (an edit was refused; the next may start elsewhere)."""
        Git(path)("checkout", "--quiet", "--force", "--detach", commit)
        Git(path)("clean", "--quiet", "-fd")

    def remove(self, path: Path) -> None:
        try:
            self.git("worktree", "remove", "--force", "--force", str(path))
        except GitError:  # already gone, or never registered: the folder and git's record go anyway
            shutil.rmtree(path, ignore_errors=True)
            self.git("worktree", "prune", check=False)

    def clear(self) -> list[Path]:
        """Remove this tag's worktrees left by a loop that died (kill -9, a reboot); the removed ones."""
        gone = sorted(p for p in self.root.glob("slot*") if p.is_dir()) if self.root.is_dir() else []
        for path in gone:
            self.remove(path)
        self.git("worktree", "prune", check=False)
        return gone

    def _link_data(self, path: Path) -> None:
        gg = path / ".gg"
        gg.mkdir(exist_ok=True)
        cache = self.ws / ".gg" / "data"
        cache.mkdir(parents=True, exist_ok=True)
        (gg / "data").symlink_to(cache, target_is_directory=True)
        dataset = self.cfg.data.dataset
        if dataset and not Path(dataset).expanduser().is_absolute():
            here, there = path / dataset, self.ws / dataset
            if not here.exists() and there.exists():  # an untracked dataset folder of the workspace
                here.parent.mkdir(parents=True, exist_ok=True)
                here.symlink_to(there.resolve(), target_is_directory=True)
