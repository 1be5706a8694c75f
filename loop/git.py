"""A thin wrapper over the git CLI (list argv, never a shell) for the loop's branch work."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gg_research.loop.errors import GitError

_IDENTITY = ("-c", "user.name=gg-research loop", "-c", "user.email=loop@gg-research.invalid")


class Git:
    def __init__(self, workspace: Path) -> None:
        self.workspace = Path(workspace)
        self._identity: tuple[str, ...] | None = None

    def __call__(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            ["git", "-C", str(self.workspace), *args],
            capture_output=True, text=True, timeout=120,
        )
        if check and proc.returncode != 0:
            err = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            raise GitError(f"{self.workspace}: git {' '.join(args[:3])} failed: {err[-1] if err else proc.returncode}")
        return proc.stdout

    def ok(self, *args: str) -> bool:
        return subprocess.run(
            ["git", "-C", str(self.workspace), *args], capture_output=True, timeout=120
        ).returncode == 0

    def is_repo(self) -> bool:
        return self.ok("rev-parse", "--is-inside-work-tree")

    def head(self) -> str:
        return self("rev-parse", "HEAD").strip()

    def parent(self, commit: str) -> str | None:
        """The first parent of `commit`, or None for a root commit."""
        proc = subprocess.run(["git", "-C", str(self.workspace), "rev-parse", "--verify", "-q", f"{commit}^"],
                              capture_output=True, text=True, timeout=120)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def current_branch(self) -> str:
        return self("rev-parse", "--abbrev-ref", "HEAD").strip()

    def branch_exists(self, name: str) -> bool:
        return self.ok("show-ref", "--verify", "--quiet", f"refs/heads/{name}")

    def create_branch(self, name: str, start: str | None = None) -> None:
        self("checkout", "-q", "-b", name, *([start] if start else []))

    def create_branch_at(self, name: str, commit: str) -> None:
        """A branch at `commit`, without checking it out."""
        self("branch", "-f", name, commit)

    def commits_between(self, base: str, tip: str) -> list[str]:
        """Commits reachable from `tip` but not from `base`, newest first."""
        return self("rev-list", f"{base}..{tip}").split()

    def checkout(self, name: str) -> None:
        self("checkout", "-q", name)

    def hidden(self, paths: list[str] | None = None) -> list[str]:
        """Tracked paths git is told not to look at (`update-index --skip-worktree` or `--assume-unchanged`).

        `git status`, `git diff` and `git reset --hard` pass over them whatever their contents, so every
        query below that the loop trusts counts them as changed: an edit cannot be hidden from it.
        """
        out = self("ls-files", "-v", "--", *(paths or []))
        return [line[2:] for line in out.splitlines() if line[:1] == "S" or line[:1].islower()]

    def dirty(self, paths: list[str]) -> list[str]:
        """Paths among `paths` with uncommitted changes (staged, unstaged or untracked), or hidden from git."""
        out = self("status", "--porcelain", "--untracked-files=all", "--", *paths)
        return _union([line[3:] for line in out.splitlines() if line.strip()], self.hidden(paths) if paths else [])

    def modified_tracked(self) -> list[str]:
        """Tracked paths changed in the working tree or the index, or hidden from git."""
        out = self("status", "--porcelain", "--untracked-files=no")
        return _union([line[3:] for line in out.splitlines() if line.strip()], self.hidden())

    def changed_since(self, commit: str) -> list[str]:
        """Tracked paths whose working-tree contents differ from `commit` (staged or not, deleted too), or
        hidden from git."""
        return _union([line for line in self("diff", "--name-only", commit, "--").splitlines() if line], self.hidden())

    def untracked(self) -> list[str]:
        """Untracked files that .gitignore does not cover."""
        return [line for line in self("ls-files", "--others", "--exclude-standard").splitlines() if line]

    def show(self, commit: str, path: str) -> str | None:
        """A file's text at `commit`, or None when it has none."""
        proc = subprocess.run(["git", "-C", str(self.workspace), "show", f"{commit}:{path}"],
                              capture_output=True, timeout=120)
        return proc.stdout.decode("utf-8") if proc.returncode == 0 else None

    def tracked(self, path: str) -> bool:
        return bool(self("ls-files", "--", path).strip())

    def _ident(self) -> tuple[str, ...]:
        # Use the user's identity when git has one; a fresh machine without one still commits.
        if self._identity is None:
            have = self.ok("config", "user.name") and self.ok("config", "user.email")
            self._identity = () if have else _IDENTITY
        return self._identity

    def commit(self, paths: list[str], message: str) -> str:
        self("add", "--", *paths)
        self(*self._ident(), "commit", "-q", "--no-verify", "-m", message, "--", *paths)
        return self.head()

    def tag(self, name: str, commit: str) -> None:
        self("tag", "-f", name, commit)

    def delete_tag(self, name: str) -> None:
        self("tag", "-d", name)

    def tags(self, pattern: str) -> list[str]:
        return self("tag", "--list", pattern).split()

    def reset_hard(self, commit: str) -> None:
        self("reset", "-q", "--hard", commit)

    def diff(self, parent: str, commit: str) -> str:
        return self("diff", "--no-color", parent, commit)

    def changed_files(self, parent: str, commit: str) -> list[str]:
        return [line for line in self("diff", "--name-only", parent, commit).splitlines() if line]


def _union(first: list[str], more: list[str]) -> list[str]:
    return first + [p for p in more if p not in first]
