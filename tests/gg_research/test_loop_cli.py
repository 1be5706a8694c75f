"""`gg-research loop` as a user runs it: real subprocesses, kill -9 and resume, Ctrl-C, refusals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness.procs import all_gone
from tests.loop.fakes import edit, git, make_workspace, records, tsv_rows, write_script

CLI = [sys.executable, "-m", "gg_research.cli", "loop"]


def _start(ws: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    return subprocess.Popen([*CLI, *args, "--no-report"], cwd=ws, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(ws: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    return subprocess.run([*CLI, *args, "--no-report"], cwd=ws, env=env, text=True, capture_output=True, timeout=timeout)


def _run_file(ws: Path, exp_id: str, name: str) -> Path:
    """Where a [run] command's file of experiment `exp_id` appears while it runs: its own output
    folder, which the parent made under .gg/runs (the run folder under results/ is the parent's)."""
    return ws / ".gg" / "runs" / "cmd-*" / exp_id / name


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    root = Path(path.anchor)
    while not (list(root.glob(str(path.relative_to(root)))) if "*" in str(path) else path.exists()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.1)


HYPS = [
    edit("QA up", "QA = 1.0", "QA = 2.0"),
    edit("hang", 'MODE = "ok"', 'MODE = "hang"'),
    edit("QB up", "QB = 1.0", "QB = 2.0"),
]


@pytest.mark.slow
def test_kill_9_then_resume_keeps_ledger_and_branch_consistent(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", hard=60)
    script = write_script(ws, HYPS)
    proc = _start(ws, "--tag", "k", "--script", str(script))
    pid_file = _run_file(ws, "e0003", "pid")
    _wait_for(pid_file, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The run's box dies with the loop that started it: no orphaned run keeps training.
    assert all_gone(str(ws))
    assert records(ws)[-1].status == "running"

    done = _run(ws, "--tag", "k", "--script", str(script))
    assert done.returncode == 0, done.stderr
    assert "e0003: was running when the loop died; recorded as interrupted" in done.stdout
    recs = records(ws)
    assert [r.id for r in recs] == ["e0001", "e0002", "e0003", "e0004"]
    assert [r.status for r in recs] == ["baseline", "keep", "interrupted", "keep"]
    assert "interrupted" in recs[2].reason
    assert recs[3].title == "QB up" and recs[3].parent == "e0002"
    assert [row[0] for row in tsv_rows(ws)[1:]] == ["e0001", "e0002", "e0003", "e0004"]
    assert git(ws, "rev-parse", "autoresearch/k").strip() == recs[3].commit
    assert sorted(git(ws, "tag", "--list", "gg/k/*").split()) == ["gg/k/e0001", "gg/k/e0002", "gg/k/e0004"]
    assert 'MODE = "ok"' in (ws / "train.py").read_text()
    # every line of the ledger is a start or an end of a known experiment, one of each
    lines = (ws / "results" / "experiments.jsonl").read_text().splitlines()
    assert len(lines) == 8


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_run_records_interrupted_and_resets(tmp_path: Path, sig: int) -> None:
    ws = make_workspace(tmp_path / "ws", hard=60)
    script = write_script(ws, HYPS)
    proc = _start(ws, "--tag", "c", "--script", str(script))
    pid_file = _run_file(ws, "e0003", "pid")
    _wait_for(pid_file, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert all_gone(str(ws))
    recs = records(ws)
    assert [r.status for r in recs] == ["baseline", "keep", "interrupted"]
    assert git(ws, "rev-parse", "HEAD").strip() == recs[1].commit
    assert tsv_rows(ws)[-1][6] == "interrupted"
    # the lock died with the process: the same tag resumes and finishes the script
    done = _run(ws, "--tag", "c", "--script", str(script))
    assert done.returncode == 0, done.stderr
    assert [r.status for r in records(ws)] == ["baseline", "keep", "interrupted", "keep"]


@pytest.mark.slow
def test_second_loop_on_the_same_workspace_is_refused(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", hard=60)
    script = write_script(ws, HYPS)
    first = _start(ws, "--tag", "one", "--script", str(script))
    try:
        # The hanging experiment's run: its output folder stays while it runs (a quick run's folder
        # can come and go between two looks), and the first loop holds the workspace meanwhile.
        _wait_for(_run_file(ws, "e0003", "pid"), first)
        second = _run(ws, "--tag", "two", "--script", str(script))
        assert second.returncode == 2
        assert f"another loop (pid {first.pid})" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert not git(ws, "branch", "--list", "autoresearch/two").strip()


@pytest.mark.parametrize("args,needle", [
    (["--tag", "bad tag"], "invalid tag"),
    (["--tag", "x", "--until", "25:00"], "invalid time"),
    (["--tag", "x", "--max-experiments", "0"], "must be a positive number"),
    (["--tag", "x", "--proposer", "gpt"], "invalid choice"),
    (["--tag", "x", "--proposer", "optuna", "--script", "h.jsonl"], "--script goes with --proposer scripted"),
])
def test_argument_errors(tmp_path: Path, args: list[str], needle: str) -> None:
    res = _run(tmp_path, *args)
    assert res.returncode == 2 and needle in res.stderr


@pytest.mark.parametrize("setup,needle", [
    ("dirty", "uncommitted changes in mutable file(s) train.py"),
    ("script", "no such hypothesis script"),
    ("badjson", ":1: not JSON"),
    ("badhyp", ":1: edits"),
    ("noworkspace", "not inside a gg-research workspace"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(tmp_path: Path, setup: str, needle: str) -> None:
    ws = make_workspace(tmp_path / "ws")
    script = write_script(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")])
    cwd = ws
    if setup == "dirty":
        (ws / "train.py").write_text((ws / "train.py").read_text() + "# mine\n")
    elif setup == "script":
        script = tmp_path / "missing.jsonl"
    elif setup == "badjson":
        script.write_text("{not json\n")
    elif setup == "badhyp":
        script.write_text('{"title": "no edits", "edits": []}\n')
    else:
        cwd = tmp_path
    res = _run(cwd, "--tag", "t", "--script", str(script))
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (ws / "results" / "experiments.jsonl").exists()
    assert git(ws, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
