"""The git worktrees of a parallel loop: one per worker slot, checked out at each experiment's parent commit.

Each experiment's edit is written, committed and run in the worktree of the slot it took, so
runs in flight never see one another's edits and the workspace itself stays on the branch tip.
A slot keeps its worktree (and its path) from one experiment to the next: its worker starts the
next run's child ahead, which needs the path to stay; the worktrees go when the night ends. The worktrees lie outside the
workspace (WORKSPACE.worktrees by default): a run's box hides the workspace's state (.gg, results,
.git), and a worktree inside it would be hidden with it. What a run needs but git does not carry,
the cached synthetic data and a dataset folder given by a relative path, is linked in from the
workspace.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gg_research.config import Config
from gg_research.loop.errors import GitError
from gg_research.loop.git import Git
from gg_research.workspace_map import WorkspaceMap


class Worktrees:
    def __init__(self, git: Git, workspace: Path, config: Config, tag: str) -> None:
        self.git = git
        self.ws = Path(workspace).resolve()
        self.cfg = config
        self.root = WorkspaceMap(self.ws).worktrees(config.parallel.worktrees) / tag

    def checkout(self, slot: int, commit: str) -> Path:
        """Slot `slot`'s worktree, detached at `commit` with nothing else in it but the linked data."""
        path = self.root / f"slot{slot:04d}"
        if (path / ".git").is_file():
            git = Git(path)
            git("checkout", "--quiet", "--force", "--detach", commit)
            git("clean", "--quiet", "-fd")  # untracked files of the last edit; ignored ones (.gg) stay
            self._link_data(path)
            return path
        if path.exists():  # not a worktree (any more): made again
            self.remove(path)
        self.root.mkdir(parents=True, exist_ok=True)
        self.git("worktree", "add", "--detach", "--quiet", str(path), commit)
        self._link_data(path)
        return path

    def remove(self, path: Path) -> None:
        try:
            self.git("worktree", "remove", "--force", "--force", str(path))
        except GitError:  # already gone, or never registered: the folder and git's record go anyway
            shutil.rmtree(path, ignore_errors=True)
            self.git("worktree", "prune", check=False)

    def clear(self) -> list[Path]:
        """Remove this tag's worktrees: at the end of a night, and those a loop that died left; the removed ones."""
        gone = sorted(p for p in self.root.glob("slot*") if p.is_dir()) if self.root.is_dir() else []
        for path in gone:
            self.remove(path)
        self.git("worktree", "prune", check=False)
        for folder in (self.root, self.root.parent):  # nothing empty left beside the workspace
            try:
                folder.rmdir()
            except OSError:  # not empty (another tag's night), or already gone
                break
        return gone

    def _link_data(self, path: Path) -> None:
        """Link what git does not carry; again after each checkout (a clean may take an untracked link).
        The synthetic data needs no link: it lives outside the workspace, under the origin's id."""
        links: list[tuple[Path, Path]] = []
        dataset = self.cfg.data.dataset
        if dataset and not Path(dataset).expanduser().is_absolute() and (self.ws / dataset).exists():
            links.append((path / dataset, (self.ws / dataset).resolve()))  # an untracked dataset folder
        for here, there in links:
            if not here.exists() and not here.is_symlink():
                here.parent.mkdir(parents=True, exist_ok=True)
                here.symlink_to(there, target_is_directory=True)
