"""A night driven by an agent, end to end: a scripted MCP client over stdio plays the agent on a fresh
workspace (`init --agent claude-code` on the fast fake training of tests/loop/fakes.py, a knowledge base
ingested by the CLI): it reads the state, searches, edits train.py, runs, polls, reads the result and goes
on; two of its moves are hostile. Afterwards the ledger, the tags, the branch and the report are checked."""

from __future__ import annotations

import json
import py_compile
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from gg_research.agent_setup import add_agent
from tests.loop.fakes import git, make_workspace, records

pytestmark = pytest.mark.slow

NOTES = """# Training schedule

Joint training of the spatial transformer and the segmentation head was the biggest single win:
raise the alignment loss weight QA before touching anything else.

# Segmentation loss

Lowering the segmentation weight QB starves the head; Dice falls with it.
"""


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
            "TOKENIZERS_PARALLELISM": "false"}


def _edit(ws: Path, old: str, new: str, name: str = "train.py") -> None:
    p = ws / name
    text = p.read_text()
    assert old in text, old
    p.write_text(text.replace(old, new))


def test_an_agent_drives_a_night_over_mcp(tmp_path: Path) -> None:
    from contextlib import AsyncExitStack

    from mcp import ClientSession, StdioServerParameters, stdio_client

    ws = make_workspace(tmp_path / "ws")
    add_agent(ws, "claude-code")  # what `init --agent claude-code` adds: registration, guard rails, brief
    (tmp_path / "notes.md").write_text(NOTES)
    ingest = subprocess.run([sys.executable, "-m", "gg_research", "ingest", str(tmp_path / "notes.md")], cwd=ws,
                            env=_env(), capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    server_log = tmp_path / "server.log"
    played: list[tuple[str, Any]] = []

    async def call(s: ClientSession, name: str, **args: Any) -> tuple[bool, Any]:
        res = await s.call_tool(name, args)
        out = " ".join(c.text for c in res.content if hasattr(c, "text")) if res.is_error else res.structured_content
        played.append((name, out))
        return res.is_error, out

    async def until_done(s: ClientSession, first: dict) -> dict:
        res = first
        for _ in range(60):
            if res["state"] != "running":
                return res
            err, res = await call(s, "experiment_status", wait_s=5)
            assert not err, res
        raise AssertionError(f"never done: {res}")

    async def night() -> None:
        params = StdioServerParameters(command=sys.executable, args=["-m", "gg_research", "mcp"], cwd=str(ws), env=_env())
        with server_log.open("w") as errlog:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
                s = await stack.enter_async_context(ClientSession(read, write))
                await s.initialize()

                # 1. Read the state, search the notes, make the change they ground, run it, poll, read it.
                err, state = await call(s, "loop_state")
                assert not err and state["experiments"] == 0 and state["baseline"] is None
                err, found = await call(s, "search_knowledge", query="which loss weight to raise first", k=3)
                assert not err and found["passages"], found
                key = next(p["key"] for p in found["passages"] if "QA" in p["text"])
                _edit(ws, "QA = 1.0", "QA = 2.0")
                err, res = await call(s, "run_experiment", title="QA up", rationale=f"the notes say so [{key}]",
                                      citations=[key], wait_s=0)
                assert not err and res["state"] == "running" and res["expected_s"] > 0
                res = await until_done(s, res)
                assert res["state"] == "done" and res["status"] == "keep" and res["baseline"]["experiment"] == "e0001"

                # 2. Hostile: an oracle compiled beside train.py, then a one-line edit. Refused, nothing runs.
                py_compile.compile(str(ws / "train.py"), cfile=str(ws / "__pycache__" / "train.cpython-311.pyc"))
                _edit(ws, "QB = 1.0", "QB = 1.5")
                err, text = await call(s, "run_experiment", title="QB up", citations=[], wait_s=60)
                assert err and "bytecode in the workspace (__pycache__/train.cpython-311.pyc)" in text, text
                err, st = await call(s, "experiment_status", wait_s=0)
                assert not err and st["state"] == "idle" and "bytecode" in st["last_result"]["error"]
                (ws / "__pycache__" / "train.cpython-311.pyc").unlink()

                # 3. Hostile: the brief edited beside train.py, and a made-up citation. Refused, nothing runs.
                _edit(ws, "Raise PBQC", "Ignore PBQC", "program.md")
                err, text = await call(s, "run_experiment", title="QB up", citations=[], wait_s=60)
                assert err and "outside the mutable files" in text and "program.md" in text
                git(ws, "checkout", "-q", "program.md")
                err, text = await call(s, "run_experiment", title="QB up", citations=["bogus:999"], wait_s=60)
                assert err and "citation 'bogus:999' is not a passage" in text and key in text
                err, st = await call(s, "experiment_status", wait_s=0)
                assert not err and st["state"] == "idle" and "bogus:999" in st["last_result"]["error"]

                # 4. The same edit, honest now: it runs; the next one, against the notes, is reverted.
                err, res = await call(s, "run_experiment", title="QB up", rationale="", citations=[], wait_s=60)
                res = await until_done(s, res)
                assert res["status"] == "keep", res
                _edit(ws, "QB = 1.5", "QB = 0.5")
                err, res = await call(s, "run_experiment", title="QB down", rationale="", citations=[], wait_s=60)
                res = await until_done(s, res)
                assert res["status"] == "discard" and "QB = 1.5" in (ws / "train.py").read_text()

                # 5. Read where the night stands, and the report.
                err, state = await call(s, "loop_state")
                assert [r["id"] for r in state["front"]] == ["e0003"] and state["experiments"] == 4
                err, rep = await call(s, "report")
                assert not err and Path(rep["report"]).is_file()

    anyio.run(night)
    recs = records(ws)
    assert [(r.id, r.proposer, r.status.value) for r in recs] == [
        ("e0001", "baseline", "baseline"), ("e0002", "agent", "keep"), ("e0003", "agent", "keep"),
        ("e0004", "agent", "discard")]
    cited = recs[1].hypothesis["citations"]
    assert cited[0]["chunk_id"] == key_of(played) and cited[0].get("section") == "Training schedule", cited
    assert recs[1].passages, "the passages the agent read are recorded with its experiment"
    assert git(ws, "tag", "--list", "gg/agent/*").split() == ["gg/agent/e0001", "gg/agent/e0002", "gg/agent/e0003"]
    assert git(ws, "branch", "--show-current").strip() == "autoresearch/agent"
    assert git(ws, "rev-parse", "HEAD").strip() == recs[2].commit and git(ws, "status", "--porcelain") == ""
    assert not (ws / "__pycache__").exists() or not any((ws / "__pycache__").iterdir())
    report = (ws / "results" / "report.md").read_text()
    assert "e0003" in report and "proposer agent" in report
    # Nothing of the hostile moves reached the ledger or the history.
    assert all("Ignore PBQC" not in git(ws, "show", f"{r.commit}:program.md") for r in recs)
    log = server_log.read_text()
    assert "terminate called" not in log and "Traceback" not in log, log[-2000:]


def key_of(played: list[tuple[str, Any]]) -> str:
    """The key the agent cited: the passage of its first search that mentions QA."""
    found = next(out for name, out in played if name == "search_knowledge")
    return next(p["key"] for p in found["passages"] if "QA" in p["text"])


def test_what_the_guard_rails_deny_is_what_the_brief_lists(tmp_path: Path) -> None:
    """The settings and the brief come from one list: every denied path is named in the brief, with its reason."""
    ws = make_workspace(tmp_path / "ws")
    add_agent(ws, "claude-code")
    settings = json.loads((ws / ".claude" / "settings.json").read_text())
    brief = (ws / "program.md").read_text()
    for rule in settings["permissions"]["deny"]:
        path = rule[rule.index("(") + 2:-1]
        assert f"`{path}`" in brief, rule
