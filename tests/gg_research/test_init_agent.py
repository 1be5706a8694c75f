"""`gg-research init --agent`: the MCP registration file, the brief's agent section, committed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gg_research.errors import GGError
from gg_research.agent_setup import add_agent
from gg_research.workspace import init_workspace


def _git(ws: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(ws), *args], check=True, capture_output=True, text=True).stdout


def test_init_claude_code_registers_the_server_and_writes_the_guard_rails(tmp_path: Path) -> None:
    from gg_research.cli import main

    ws = tmp_path / "study"
    assert main(["init", str(ws), "--agent", "claude-code"]) == 0
    server = json.loads((ws / ".mcp.json").read_text())["mcpServers"]["gg-research"]
    # By command name: no path of this machine's environment, so a clone or a rebuilt venv still starts it.
    assert server == {"type": "stdio", "command": "gg-research", "args": ["mcp"]}
    settings = json.loads((ws / ".claude" / "settings.json").read_text())
    perms = settings["permissions"]
    assert "gg-research" in settings["enabledMcpjsonServers"] and "mcp__gg-research" in perms["allow"]
    assert {"Edit(/train.py)", "Bash(gg-research step *)", "Bash(gg-research status *)"} <= set(perms["allow"])
    for denied in ("Read(/.gg/data/**)", "Read(/results/runs/**/test_scores.json)", "Read(/results/experiments.jsonl)",
                   "Read(/gg-research.toml)", "Edit(/gg-research.toml)", "Edit(/program.md)", "Edit(/.claude/**)",
                   "Edit(/results/**)"):
        assert denied in perms["deny"], denied
    assert not any("train.py" in rule for rule in perms["deny"])
    box = settings["sandbox"]
    assert box["enabled"] and box["allowUnsandboxedCommands"] is False and "gg-research *" in box["excludedCommands"]
    assert "./.gg/data/**" in box["filesystem"]["denyRead"] and "./program.md" in box["filesystem"]["denyWrite"]
    assert settings["env"]["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "program.md" in (ws / "CLAUDE.md").read_text()
    brief = (ws / "program.md").read_text()
    assert brief.startswith("# Research brief") and "run_experiment" in brief and "Never stop" in brief
    assert "`.gg/data/**`: do not read or edit" in brief and "sealed test scores" in brief
    assert ".claude/settings.local.json" in (ws / ".gitignore").read_text()
    assert _git(ws, "status", "--porcelain") == "" and len(_git(ws, "log", "--oneline").splitlines()) == 2


def test_the_guard_rails_keep_the_users_own_settings_and_name_an_outside_dataset(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "study")
    cfg = ws / "gg-research.toml"
    cfg.write_text(cfg.read_text().replace('dataset = ""', 'dataset = "/srv/prints"', 1))
    _git(ws, "commit", "-qam", "own data")
    (ws / ".claude").mkdir()
    (ws / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"allow": ["Bash(ls *)"]}, "model": "x"}))
    add_agent(ws, "claude-code")
    add_agent(ws, "claude-code")  # twice: nothing doubled
    settings = json.loads((ws / ".claude" / "settings.json").read_text())
    assert settings["model"] == "x" and settings["permissions"]["allow"][0] == "Bash(ls *)"
    assert settings["permissions"]["deny"].count("Read(//srv/prints/**)") == 1
    assert "//srv/prints/**" in settings["sandbox"]["filesystem"]["denyRead"]


def test_status_says_when_the_registered_server_does_not_start(tmp_path: Path, monkeypatch) -> None:
    import os

    from gg_research.agent_setup import registration_problems

    ws = init_workspace(tmp_path / "study")
    add_agent(ws, "claude-code")
    # The command resolves through PATH, as the agent resolves it: this environment's bin first.
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    assert registration_problems(ws) == []
    reg = ws / ".mcp.json"
    reg.write_text(json.dumps({"mcpServers": {"gg-research": {"command": "gg-research-gone", "args": ["mcp"]}}}))
    (problem,) = registration_problems(ws)
    assert ".mcp.json" in problem and "'gg-research-gone' is not found (not on PATH)" in problem
    reg.write_text(json.dumps({"mcpServers": {"gg-research": {"command": ".venv/bin/gg-research", "args": ["mcp"]}}}))
    assert "no such file" in registration_problems(ws)[0]
    reg.write_text(json.dumps({"mcpServers": {"gg-research": {"command": sys.executable, "args": ["-c", "raise SystemExit(3)"]}}}))
    assert "fails: exit code 3" in registration_problems(ws)[0]
    monkeypatch.chdir(ws)
    p = subprocess.run([sys.executable, "-m", "gg_research", "status"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "warning:" in p.stderr and ".mcp.json" in p.stderr


def test_generic_agent_on_an_existing_workspace_keeps_other_servers(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "study")
    (ws / "mcp.json").write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}}))
    add_agent(ws, "generic")
    add_agent(ws, "generic")  # twice: nothing doubled
    servers = json.loads((ws / "mcp.json").read_text())["mcpServers"]
    assert servers["other"] == {"command": "x"} and servers["gg-research"]["args"][-2:] == ["--workspace", str(ws)]
    assert (ws / "program.md").read_text().count("## Working as a coding agent") == 1
    assert _git(ws, "status", "--porcelain") == ""


def test_broken_registration_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "study")
    (ws / ".mcp.json").write_text("{not json")
    head = _git(ws, "rev-parse", "HEAD")
    with pytest.raises(GGError, match=r"\.mcp\.json: not valid JSON"):
        add_agent(ws, "claude-code")
    assert (ws / ".mcp.json").read_text() == "{not json" and _git(ws, "rev-parse", "HEAD") == head
    assert "Working as a coding agent" not in (ws / "program.md").read_text()
