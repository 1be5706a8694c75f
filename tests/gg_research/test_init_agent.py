"""`gg-research init --agent`: the MCP registration file, the brief's agent section, committed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gg_research.errors import GGError
from gg_research.workspace import add_agent, init_workspace


def _git(ws: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(ws), *args], check=True, capture_output=True, text=True).stdout


def test_init_claude_code_registers_the_server_and_commits(tmp_path: Path) -> None:
    from gg_research.cli import main

    ws = tmp_path / "study"
    assert main(["init", str(ws), "--agent", "claude-code"]) == 0
    server = json.loads((ws / ".mcp.json").read_text())["mcpServers"]["gg-research"]
    assert server["command"] == sys.executable and server["args"] == ["-m", "gg_research", "mcp"]
    settings = json.loads((ws / ".claude" / "settings.json").read_text())
    assert "gg-research" in settings["enabledMcpjsonServers"] and "mcp__gg-research" in settings["permissions"]["allow"]
    assert "program.md" in (ws / "CLAUDE.md").read_text()
    brief = (ws / "program.md").read_text()
    assert brief.startswith("# Research brief") and "run_experiment" in brief and "Never stop" in brief
    assert ".claude/settings.local.json" in (ws / ".gitignore").read_text()
    assert _git(ws, "status", "--porcelain") == "" and len(_git(ws, "log", "--oneline").splitlines()) == 2


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
