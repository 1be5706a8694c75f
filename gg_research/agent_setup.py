"""What `init --agent` writes for a coding agent: its MCP registration and the guard rails.

The guard rails are Claude Code's own documented settings (`.claude/settings.json`):
`permissions.allow` for what an unattended night needs (editing the mutable files, the
gg-research MCP tools, the gg-research commands the brief names), `permissions.deny` for what
the agent must neither read nor edit (the labels and the dataset, the sealed test scores, the
ledger, the config) and for the files it must not edit, `sandbox` so that its shell commands
meet the same wall at the operating-system level, and `env` so that the Python it runs writes
no bytecode (a step refuses a workspace that holds some). Permission rules are resolved against
the project root (a leading `/`); sandbox paths against the folder Claude Code starts in (`./`):
both are the workspace, so the committed file works for a collaborator's clone too.

The generic form says the same in AGENTS.md, for agents without such settings.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gg_research.config import CONFIG_NAME, Config, load_config
from gg_research.harness.errors import WorkspaceError
from gg_research.workspace import git as _git
from gg_research.workspace_map import GIT_DIR, PER_IMAGE_FILE, TEST_SCORES_FILE, WorkspaceMap, data_home, tag_of_branch

AGENTS = ("claude-code", "generic")
SERVER = "gg-research"
AGENT_SECTION = "## Working as a coding agent through gg-research's tools"
POINTER = ("Read program.md before anything else: it is your research brief, and its last section says how to "
           "work with the gg-research tools (search the thesis, one focused change of train.py per experiment, "
           "run_experiment, never stop) and which files are off limits.\n")
# The commands the brief names for an agent without MCP; `gg-research loop`, `run` or `data` are the researcher's.
AGENT_COMMANDS = ("search", "status", "step", "report")


@dataclass(frozen=True)
class OffLimits:
    """A workspace path (relative, gitignore syntax) an agent must not read or must not edit, and why."""

    path: str
    why: str
    read: bool  # also hidden from reading (else only editing is denied)


def off_limits(config: Config) -> list[OffLimits]:
    """What an agent working in the workspace must keep out of, with the reason the brief gives."""
    ws = WorkspaceMap(Path())  # paths relative to the workspace, as the rules want them
    items = [
        OffLimits(f"{ws.legacy_data}/**", "the dataset as older versions kept it: validation and test labels", True),
        OffLimits(f"{ws.runs}/**/{TEST_SCORES_FILE}", "the sealed test scores, for the researcher's morning only", True),
        OffLimits(f"{ws.runs}/**/{PER_IMAGE_FILE}", "per-image scores against the validation labels", True),
        OffLimits(f"{ws.ledger}", "the ledger (loop_state shows what you need of it)", True),
        OffLimits(f"{ws.tsv}", "the ledger's table", True),
        OffLimits(CONFIG_NAME, "the config: budget, objectives, keep rule, data (loop_state shows the margins)", True),
        OffLimits(f"{ws.results}/**", "run folders and reports: written by gg-research only", False),
        OffLimits(f"{ws.state}/**", "gg-research's runtime state (knowledge base, locks, caches)", False),
        OffLimits("program.md", "the researcher's brief", False),
        OffLimits("CLAUDE.md", "the pointer to the brief", False),
        OffLimits("AGENTS.md", "the pointer to the brief", False),
        OffLimits(".mcp.json", "the MCP registration", False),
        OffLimits("mcp.json", "the MCP registration", False),
        OffLimits(".claude/**", "these guard rails", False),
        OffLimits(".gitignore", "what git tracks decides what a step accepts", False),
        OffLimits(f"{GIT_DIR}/**", "the history the keep rule tags", False),
    ]
    home = str(data_home().expanduser().resolve()).lstrip("/")
    items.insert(0, OffLimits(f"/{home}/**", "the synthetic datasets: validation and test labels, and the split "
                                             "of each sample (kept outside the workspace)", True))
    dataset = config.data.dataset
    if dataset:
        where = Path(dataset).expanduser()
        # An absolute folder is `//abs` in a permission rule; a relative one is under the workspace.
        rel = str(where).lstrip("/") if where.is_absolute() else where.as_posix().removeprefix("./")
        items.insert(0, OffLimits(("/" if where.is_absolute() else "") + rel.rstrip("/") + "/**",
                                  "the dataset: validation and test labels, and the split of each sample", True))
    return items


def _rule(tool: str, path: str) -> str:
    # A leading "/" anchors a permission rule at the project root; "//" starts an absolute path.
    return f"{tool}(/{path})"


def _sandbox_path(path: str) -> str:
    return "/" + path if path.startswith("/") else "./" + path


def claude_settings(settings: dict, config: Config) -> dict:
    """`settings` (an existing .claude/settings.json, kept) with the server enabled and the guard rails added."""
    def add(items: list, *new: str) -> None:
        items.extend(x for x in new if x not in items)

    limits = off_limits(config)
    add(settings.setdefault("enabledMcpjsonServers", []), SERVER)
    perms = settings.setdefault("permissions", {})
    add(perms.setdefault("allow", []), f"mcp__{SERVER}",
        *[_rule("Edit", rel) for rel in config.workspace.mutable],
        *[f"Bash({SERVER} {cmd} *)" for cmd in AGENT_COMMANDS], *[f"Bash({SERVER} {cmd})" for cmd in AGENT_COMMANDS])
    add(perms.setdefault("deny", []), *[_rule("Read", o.path) for o in limits if o.read],
        *[_rule("Edit", o.path) for o in limits])
    sandbox = settings.setdefault("sandbox", {})
    sandbox.setdefault("enabled", True)
    sandbox.setdefault("autoAllowBashIfSandboxed", True)  # the sandbox is the wall, so no prompt a night waits on
    sandbox.setdefault("allowUnsandboxedCommands", False)  # no retry outside the wall
    # gg-research starts its own box (bubblewrap) and writes the ledger: it runs outside Claude's sandbox,
    # under the allow rules above (only the commands the brief names).
    add(sandbox.setdefault("excludedCommands", []), f"{SERVER} *")
    fs = sandbox.setdefault("filesystem", {})
    add(fs.setdefault("denyRead", []), *[_sandbox_path(o.path) for o in limits if o.read])
    add(fs.setdefault("denyWrite", []), *[_sandbox_path(o.path) for o in limits])
    settings.setdefault("env", {}).setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return settings


def off_limits_text(config: Config) -> str:
    """The brief's list of what is off limits and why (Markdown)."""
    lines = ["Off limits (the guard rails `init --agent` wrote deny these; a step refuses what slips through):", ""]
    for o in off_limits(config):
        lines.append(f"- `{o.path}`: {'do not read or edit' if o.read else 'do not edit'}: {o.why}.")
    return "\n".join(lines) + "\n"


def server_entry(workspace: Path | None) -> dict:
    """How an agent starts `gg-research mcp`: by command name, so a clone or a rebuilt environment still works."""
    return {"type": "stdio", "command": SERVER,
            "args": ["mcp"] + (["--workspace", str(workspace)] if workspace is not None else [])}


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


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _merge_servers(path: Path, entry: dict) -> None:
    """Add the gg-research server to an MCP registration file, keeping any other servers in it."""
    data = _json_object(path)
    data.setdefault("mcpServers", {})[SERVER] = entry
    _write_json(path, data)


def add_agent(path: Path, agent: str) -> list[str]:
    """Write what a coding agent needs into the workspace at `path` and commit it; return the files.

    claude-code: .mcp.json (Claude Code reads it in the project root), .claude/settings.json (the
    server enabled, the guard rails), CLAUDE.md pointing at program.md. generic: mcp.json (the
    usual mcpServers format, with the workspace's path for clients that start servers elsewhere)
    and AGENTS.md. Both: program.md's agent section, with what is off limits and why.
    """
    if agent not in AGENTS:
        raise WorkspaceError(f"unknown agent {agent!r}: choose one of {', '.join(AGENTS)}")
    path = Path(path).resolve()
    config = load_config(path / CONFIG_NAME)
    branch = _git(path, "rev-parse", "--abbrev-ref", "HEAD").strip()
    if tag_of_branch(branch) is not None:
        raise WorkspaceError(f"{path}: on loop branch {branch}; check out your main branch first (git checkout -)")
    written: list[str] = []
    if agent == "claude-code":
        settings_path = path / ".claude" / "settings.json"
        settings = claude_settings(_json_object(settings_path), config)
        _merge_servers(path / ".mcp.json", server_entry(None))
        _write_json(settings_path, settings)
        # Claude Code's own per-user files: untracked files are refused by a step, so ignore them.
        ignore = path / ".gitignore"
        have = ignore.read_text(encoding="utf-8") if ignore.is_file() else ""
        extra = [p for p in (".claude/settings.local.json", "CLAUDE.local.md") if p not in have.split()]
        if extra:
            ignore.write_text(have + ("\n" if have and not have.endswith("\n") else "") + "\n".join(extra) + "\n",
                              encoding="utf-8")
        written += [".gitignore", ".mcp.json", ".claude/settings.json", "CLAUDE.md"]
    else:
        _merge_servers(path / "mcp.json", server_entry(path))
        written += ["mcp.json", "AGENTS.md"]
    pointer = path / written[-1]
    old = pointer.read_text(encoding="utf-8") if pointer.is_file() else ""
    if "program.md" not in old:
        pointer.write_text(old + ("\n" if old and not old.endswith("\n") else "") + POINTER, encoding="utf-8")
    brief = path / "program.md"
    text = brief.read_text(encoding="utf-8") if brief.is_file() else ""
    if AGENT_SECTION not in text:
        section = resources.files("gg_research").joinpath("data", "agent-program.md").read_text(encoding="utf-8")
        brief.write_text(text.rstrip("\n") + "\n" + section.rstrip("\n") + "\n\n" + off_limits_text(config),
                         encoding="utf-8")
    written.append("program.md")
    _git(path, "add", "--", *written)
    if _git(path, "diff", "--cached", "--name-only", "--", *written).strip():
        _git(path, "commit", "-q", "-m", f"gg-research: set up the {agent} agent (MCP server, guard rails, brief section)",
             "--", *written)
    return written


REGISTRATIONS = (".mcp.json", "mcp.json")


def registration_problems(workspace: Path, timeout_s: float = 20.0) -> list[str]:
    """For each MCP registration of the workspace whose gg-research server does not start: one line saying why.

    "Starts" means the registered command, resolved as the agent resolves it (on PATH, or relative
    to the workspace), answers `--help` for its arguments: the server itself is not started.
    """
    problems: list[str] = []
    for name in REGISTRATIONS:
        reg = workspace / name
        if not reg.is_file():
            continue
        try:
            entry = _json_object(reg).get("mcpServers", {}).get(SERVER)
        except WorkspaceError as exc:
            problems.append(str(exc))
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
            continue
        command, args = entry["command"], [str(a) for a in entry.get("args", []) if isinstance(a, (str, int))]
        exe = shutil.which(command) if "/" not in command else (
            command if Path(command).is_absolute() else str(workspace / command))
        if exe is None or not Path(exe).is_file():
            problems.append(f"{reg}: the registered server command {command!r} is not found "
                            f"({'not on PATH' if '/' not in command else 'no such file'}); install gg-research where "
                            "the agent starts (or activate its environment first), or run 'gg-research init --agent' again")
            continue
        try:
            proc = subprocess.run([exe, *args, "--help"], cwd=workspace, capture_output=True, text=True,
                                  timeout=timeout_s, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{reg}: the registered server command {command!r} does not start ({exc})")
            continue
        if proc.returncode != 0:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            problems.append(f"{reg}: the registered server command {command!r} fails: {last[0]}")
    return problems
