"""`gg-research mcp` driven by a real MCP client (the official SDK) over stdio, and `step` and
`status --json` as real subprocesses, on the fast fake workspace of tests/loop/fakes.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.loop.fakes import git, make_workspace, records

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def _edit(ws: Path, old: str, new: str, name: str = "train.py") -> None:
    p = ws / name
    p.write_text(p.read_text().replace(old, new))


class Client:
    """A session with one `gg-research mcp` server process."""

    def __init__(self, session: Any) -> None:
        self.s = session
        self.progress: list[tuple[float, float | None, str | None]] = []

    async def call(self, name: str, **args: Any) -> tuple[bool, Any]:
        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            self.progress.append((progress, total, message))

        res = await self.s.call_tool(name, args, progress_callback=on_progress)
        if res.is_error:
            return True, " ".join(c.text for c in res.content if hasattr(c, "text"))
        return False, res.structured_content


async def _with_clients(ws: Path, n: int, body) -> None:
    from contextlib import AsyncExitStack

    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "gg_research", "mcp"], cwd=str(ws), env=_env())
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(n):
            read, write = await stack.enter_async_context(stdio_client(params))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            clients.append(Client(session))
        await body(*clients)


def test_an_mcp_client_runs_experiments_and_a_frozen_edit_is_refused(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")

    async def body(c: Client) -> None:
        tools = {t.name for t in (await c.s.list_tools()).tools}
        assert tools == {"search_knowledge", "loop_state", "run_experiment", "experiment_status", "report"}
        err, state = await c.call("loop_state")
        assert not err and state["experiments"] == 0 and state["mutable_files"] == ["train.py"]
        err, found = await c.call("search_knowledge", query="alignment", k=3)
        assert not err and found["passages"] == [] and "empty" in found["note"]

        # A frozen file edited beside train.py: refused, nothing committed, the edit left in place.
        _edit(ws, "QA = 1.0", "QA = 2.0")
        _edit(ws, "Raise PBQC", "Lower PBQC", "program.md")
        err, text = await c.call("run_experiment", title="QA up", rationale="r", citations=[], wait_s=60)
        assert err and "outside the mutable files" in text and "program.md" in text
        assert git(ws, "log", "--oneline").count("\n") == 1 and git(ws, "branch", "--show-current").strip() == "main"
        assert "QA = 2.0" in (ws / "train.py").read_text() and not (ws / "results").exists()
        git(ws, "checkout", "-q", "program.md")

        # Arguments are checked before anything runs, each refusal one plain sentence.
        err, text = await c.call("search_knowledge", query="alignment", k=1000)
        assert err and text == "search_knowledge: argument k should be less than or equal to 20 (got 1000)"
        err, text = await c.call("search_knowledge", query="alignment", top=3)
        assert err and text == "search_knowledge: unknown argument 'top'; its arguments are query, k, include"
        err, text = await c.call("run_experiment", title="QA up", rationale="r", citations=["bogus:999"], wait_s=60)
        assert err and text.startswith("not run: citation 'bogus:999' is not in the knowledge base")
        err, rep = await c.call("report")
        assert not err and rep["report"] is None and "run_experiment" in rep["message"]
        err, st = await c.call("experiment_status", wait_s=0)
        assert not err and st["state"] == "idle", st
        schema = {t.name: t.input_schema for t in (await c.s.list_tools()).tools}
        k = schema["search_knowledge"]["properties"]["k"]
        assert (k["minimum"], k["maximum"]) == (1, 20) and k["description"]
        assert all(p.get("description") for t in schema.values() for p in t["properties"].values())
        assert all(t["additionalProperties"] is False for t in schema.values())

        err, res = await c.call("run_experiment", title="QA up", rationale="thesis says so", citations=[], wait_s=60)
        assert not err and res["state"] == "done" and res["status"] == "keep", res
        assert res["baseline"]["experiment"] == "e0001" and res["experiment"] == "e0002"
        assert c.progress, "progress notifications while it ran"
        # Out of a total: the edit's run and the baseline's seeds, of the 1 s budget each.
        from gg_research.config import load_config
        runs = 1 + load_config(ws / "gg-research.toml").keep.baseline_seeds
        assert all(total == runs * 1.0 for _, total, _ in c.progress), c.progress
        err, st = await c.call("experiment_status", wait_s=0)
        assert not err and st["state"] == "idle" and st["last_result"]["status"] == "keep"
        _edit(ws, "QB = 1.0", "QB = 0.5")
        err, res = await c.call("run_experiment", title="QB down", rationale="r", citations=[], wait_s=60)
        assert not err and res["status"] == "discard" and "QB = 1.0" in (ws / "train.py").read_text()

        err, state = await c.call("loop_state")
        assert [r["id"] for r in state["front"]] == ["e0002"] and state["noise_margins"]["pbqc"] > 0
        assert [r["id"] for r in state["recent"]] == ["e0001", "e0002", "e0003"]
        err, rep = await c.call("report")
        assert not err and Path(rep["report"]).is_file()
        assert dict((h["label"], h["value"]) for h in rep["headline"])["keeps / discards / crashes"] == "1 / 1 / 0"

    anyio.run(_with_clients, ws, 1, body)
    recs = records(ws)
    assert [(r.proposer, r.status.value) for r in recs] == [("baseline", "baseline"), ("agent", "keep"), ("agent", "discard")]
    assert recs[1].proposer_info == {"via": "mcp"} and recs[1].hypothesis["rationale"] == "thesis says so"
    assert "proposer agent" in (ws / "results" / "report.md").read_text()
    assert "proposer agent" in (ws / "results" / "report.html").read_text()


def test_a_second_client_is_refused_while_an_experiment_runs(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", hard=6.0)

    async def body(a: Client, b: Client) -> None:
        _edit(ws, 'MODE = "ok"', 'MODE = "hang"')  # runs until the hard limit kills it
        err, res = await a.call("run_experiment", title="hang", rationale="r", citations=[], wait_s=0)
        assert not err and res["state"] == "running"
        for _ in range(100):  # until the step holds the lock and the experiment has begun
            err, state = await b.call("loop_state")
            if state["running"] and state["running"][-1]["title"] == "hang":
                break
            await anyio.sleep(0.1)
        err, text = await b.call("run_experiment", title="meanwhile", rationale="r", citations=[], wait_s=30)
        assert err and "another loop" in text
        err, text = await a.call("run_experiment", title="again", rationale="r", citations=[], wait_s=30)
        assert err and "still running" in text
        err, res = await a.call("experiment_status", wait_s=60)
        assert not err and res["state"] == "done" and res["status"] == "crash" and "timeout" in res["reason"]

    anyio.run(_with_clients, ws, 2, body)
    assert [r.title for r in records(ws)] == ["baseline", "hang"]
    assert 'MODE = "ok"' in (ws / "train.py").read_text()


def _gg(ws: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gg_research", *args], cwd=ws, env=_env(), capture_output=True,
                          text=True, timeout=120)


def test_step_and_status_json_as_subprocesses(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    _edit(ws, "QA = 1.0", "QA = 2.0")
    p = _gg(ws, "step", "--title", "QA up", "--rationale", "r", "--cite", "d:1", "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["status"] == "keep" and res["experiment"] == "e0002"
    (ws / "notes.txt").write_text("scratch\n")
    _edit(ws, "QB = 1.0", "QB = 2.0")
    p = _gg(ws, "step", "--title", "with a stray file", "--json")
    assert p.returncode == 2 and json.loads(p.stdout)["status"] == "not run"
    assert json.loads(p.stdout)["error"].startswith("changes outside the mutable files")
    p = _gg(ws, "step", "--title", "with a stray file")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines()[-1].startswith("gg-research step: error: changes outside the mutable files")
    assert "notes.txt" in p.stderr and "QB = 2.0" in (ws / "train.py").read_text()
    (ws / "notes.txt").unlink()
    p = _gg(ws, "step", "--title", "QB up")  # captured output: plain lines, not a live line that never shows
    assert p.returncode == 0 and "e0003 running: QB up" in p.stdout and "kept" in p.stdout.splitlines()[-1], p.stdout
    st = json.loads(_gg(ws, "status", "--json").stdout)
    assert st["experiments"] == 3 and [r["id"] for r in st["front"]] == ["e0003"]
    assert st["latest_kept"]["proposer"] == "agent" and st["running"] == []
    text = _gg(ws, "status").stdout
    assert "Pareto front: e0003" in text and "Noise margins" in text


def test_a_copy_of_the_package_earlier_on_pythonpath_is_refused(tmp_path: Path) -> None:
    import shutil

    import gg_research
    from gg_research.ggnet.sources import _package_dir

    ws = make_workspace(tmp_path / "ws")
    # An installed-layout copy of the package whose keep rule always keeps.
    copy = tmp_path / "copy" / "gg_research"
    shutil.copytree(Path(gg_research.__file__).parent, copy)
    for sub in ("loop", "harness", "results", "ggnet", "knowledge", "retrieval"):
        shutil.copytree(_package_dir(f"gg_research.{sub}"), copy / sub, dirs_exist_ok=True)
    keep = copy / "loop" / "keep.py"
    keep.write_text(keep.read_text() + "\n\ndef decide(*a, **k):\n    return Decision('keep', 'always')\n")
    _edit(ws, "QB = 1.0", "QB = 0.5")
    p = subprocess.run([sys.executable, "-m", "gg_research", "step", "--title", "worse", "--json"], cwd=ws,
                       env={**_env(), "PYTHONPATH": str(copy.parent)}, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert f"from PYTHONPATH entry {copy.parent}" in p.stderr and "nothing was run" in p.stderr
    assert not (ws / "results").exists() and "QB = 0.5" in (ws / "train.py").read_text()
