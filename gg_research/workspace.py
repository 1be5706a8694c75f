"""Creating a research workspace: a git repo with train.py, program.md, gg-research.toml."""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path

from gg_research.config import CONFIG_NAME, render_default_toml
from gg_research.harness.errors import WorkspaceError
from gg_research.workspace_map import IGNORED

GITIGNORE = "".join(f"{line}\n" for line in (*IGNORED, "__pycache__/"))


def template_text(name: str) -> str:
    """A file of the packaged templates (ggnet/templates/)."""
    return resources.files("gg_research.ggnet").joinpath("templates", name).read_text(encoding="utf-8")


def git(path: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise WorkspaceError("git is not installed; a workspace is a git repository") from None
    if proc.returncode != 0:
        raise WorkspaceError(f"{path}: git {' '.join(args)} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout


def _has_git_identity(path: Path) -> bool:
    for key in ("user.name", "user.email"):
        proc = subprocess.run(["git", "config", key], cwd=path, capture_output=True, text=True)
        if proc.returncode != 0 or not proc.stdout.strip():
            return False
    return True


def init_workspace(path: Path) -> Path:
    """Create a workspace at `path` (which must be missing or empty) and commit it once.

    A folder that already is a workspace is left as it is and returned; any other non-empty
    folder is refused, so nothing of the user's is overwritten.
    """
    path = Path(path).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        if (path / CONFIG_NAME).is_file():
            return path
        raise WorkspaceError(f"{path}: folder is not empty and not a gg-research workspace; choose a new or empty folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"{path}: cannot create the folder ({exc.strerror})") from None

    git(path, "init", "-q")
    files = {
        "train.py": template_text("train.py"),
        "program.md": template_text("program.md"),
        CONFIG_NAME: render_default_toml(),
        ".gitignore": GITIGNORE,
    }
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    if not _has_git_identity(path):
        # A bare machine has no identity; a local one keeps the commit possible.
        git(path, "config", "user.name", "gg-research")
        git(path, "config", "user.email", "gg-research@localhost")
    git(path, "add", *files)
    git(path, "commit", "-q", "-m", "gg-research workspace: baseline train.py, program.md, gg-research.toml")
    return path
