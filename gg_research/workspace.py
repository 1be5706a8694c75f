"""Creating a research workspace: a git repo with train.py, program.md, gg-research.toml."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

from gg_research.config import CONFIG_NAME, render_default_toml
from gg_research.harness.errors import WorkspaceError

GITIGNORE = ".gg/\nresults/\n__pycache__/\n"


def template_text(name: str) -> str:
    """A file of the packaged templates (ggnet/templates/)."""
    return resources.files("gg_research.ggnet").joinpath("templates", name).read_text(encoding="utf-8")


def _git(path: Path, *args: str) -> str:
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

    _git(path, "init", "-q")
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
        _git(path, "config", "user.name", "gg-research")
        _git(path, "config", "user.email", "gg-research@localhost")
    _git(path, "add", *files)
    _git(path, "commit", "-q", "-m", "gg-research workspace: baseline train.py, program.md, gg-research.toml")
    return path


AGENTS = ("claude-code", "generic")
AGENT_SECTION = "## Working as a coding agent through gg-research's tools"
POINTER = ("Read program.md before anything else: it is your research brief, and its last section says how to "
           "work with the gg-research tools (search the thesis, one focused change of train.py per experiment, "
           "run_experiment, never stop).\n")


def _server_entry(workspace: Path | None) -> dict:
    """How an agent starts `gg-research mcp`: this Python, so the venv need not be on the agent's PATH."""
    args = ["-m", "gg_research", "mcp"] + (["--workspace", str(workspace)] if workspace is not None else [])
    return {"type": "stdio", "command": sys.executable, "args": args}


def _json_object(path: Path) -> dict:
    """A JSON settings file's object ({} when missing); a broken one is refused, never overwritten."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WorkspaceError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); fix or remove it") from None
    if not isinstance(data, dict):
        raise WorkspaceError(f"{path}: not a JSON object; fix or remove it")
    return data


def _merge_servers(path: Path, entry: dict) -> None:
    """Add the gg-research server to an MCP registration file, keeping any other servers in it."""
    data = _json_object(path)
    data.setdefault("mcpServers", {})["gg-research"] = entry
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def add_agent(path: Path, agent: str) -> list[str]:
    """Write what a coding agent needs into the workspace at `path` and commit it; return the files.

    claude-code: .mcp.json (Claude Code reads it in the project root), .claude/settings.json (the
    server enabled and its tools allowed, so a night runs unattended), CLAUDE.md pointing at
    program.md. generic: mcp.json (the usual mcpServers format, with the workspace's absolute
    path for clients that start servers elsewhere) and AGENTS.md. Both: program.md's agent section.
    """
    if agent not in AGENTS:
        raise WorkspaceError(f"unknown agent {agent!r}: choose one of {', '.join(AGENTS)}")
    path = Path(path).resolve()
    branch = _git(path, "rev-parse", "--abbrev-ref", "HEAD").strip()
    if branch.startswith("autoresearch/"):
        raise WorkspaceError(f"{path}: on loop branch {branch}; check out your main branch first (git checkout -)")
    written: list[str] = []
    if agent == "claude-code":
        settings_path = path / ".claude" / "settings.json"
        settings = _json_object(settings_path)
        _merge_servers(path / ".mcp.json", _server_entry(None))
        settings_path.parent.mkdir(exist_ok=True)
        enabled = settings.setdefault("enabledMcpjsonServers", [])
        allow = settings.setdefault("permissions", {}).setdefault("allow", [])
        for items, item in ((enabled, "gg-research"), (allow, "mcp__gg-research")):
            if item not in items:
                items.append(item)
        settings_path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        # Claude Code's own per-user files: untracked files are refused by a step, so ignore them.
        ignore = path / ".gitignore"
        have = ignore.read_text(encoding="utf-8") if ignore.is_file() else ""
        extra = [p for p in (".claude/settings.local.json", "CLAUDE.local.md") if p not in have.split()]
        if extra:
            ignore.write_text(have + ("\n" if have and not have.endswith("\n") else "") + "\n".join(extra) + "\n",
                              encoding="utf-8")
        written += [".gitignore", ".mcp.json", ".claude/settings.json", "CLAUDE.md"]
    else:
        _merge_servers(path / "mcp.json", _server_entry(path))
        written += ["mcp.json", "AGENTS.md"]
    pointer = path / written[-1]
    old = pointer.read_text(encoding="utf-8") if pointer.is_file() else ""
    if "program.md" not in old:
        pointer.write_text(old + ("\n" if old and not old.endswith("\n") else "") + POINTER, encoding="utf-8")
    brief = path / "program.md"
    text = brief.read_text(encoding="utf-8") if brief.is_file() else ""
    if AGENT_SECTION not in text:
        section = resources.files("gg_research").joinpath("data", "agent-program.md").read_text(encoding="utf-8")
        brief.write_text(text.rstrip("\n") + "\n" + section, encoding="utf-8")
    written.append("program.md")
    _git(path, "add", "--", *written)
    if _git(path, "diff", "--cached", "--name-only", "--", *written).strip():
        _git(path, "commit", "-q", "-m", f"gg-research: set up the {agent} agent (MCP server, brief section)", "--", *written)
    return written
