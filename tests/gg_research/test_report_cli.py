"""`gg-research report` run as a user runs it: a subprocess inside a workspace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.results.night import write_workspace

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
# The console script's entry point, without depending on where pip put the script.
CLI = [sys.executable, "-c", "from gg_research.cli import entry; entry()"]


def _report(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "report", *args],
        cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout,
    )


def test_json_to_stdout_from_a_subfolder(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    (ws / "notes").mkdir()
    proc = _report(ws / "notes", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["experiments"] == 9
    assert data["front"] == ["e0002", "e0005", "e0008"]
    assert data["best"]["dice"] == {"id": "e0005", "value": 0.6}
    assert data["hypervolume"] == pytest.approx(0.004303)
    assert not (ws / "results" / "report.html").exists()  # json only prints


@pytest.mark.slow
def test_default_writes_html_md_and_plots_and_prints_their_paths(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    proc = _report(ws, "--out", "morning")
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.split()
    out = ws / "morning"
    assert printed == [str(out / n) for n in ("report.html", "report.md", "pareto.png", "progress.png")]
    assert all(Path(p).stat().st_size > 0 for p in printed)


def test_warnings_go_to_stderr_and_the_report_still_comes(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws", extra_lines=["{oops"])
    proc = _report(ws, "--format", "json")
    assert proc.returncode == 0
    assert "warning: experiments.jsonl line 18: not valid JSON" in proc.stderr
    assert json.loads(proc.stdout)["experiments"] == 9


def test_outside_a_workspace_is_one_line_exit_2(tmp_path: Path):
    proc = _report(tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not inside a gg-research workspace" in proc.stderr


def test_missing_ledger_is_one_line_exit_2(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    (ws / "results" / "experiments.jsonl").unlink()
    proc = _report(ws)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "experiments.jsonl: no ledger yet" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_config_is_one_line_exit_2(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    (ws / "gg-research.toml").write_text('[[objectives]]\nname = "pbqc"\ndirection = "upwards"\n')
    proc = _report(ws, "--format", "json")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "objectives.0.direction" in proc.stderr


def test_empty_ledger_says_so(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws", records=[], in_flight=False)
    proc = _report(ws, "--format", "html")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(ws / "results" / "report.html")]
    assert "no experiments in" in proc.stderr
    assert "No experiments in the ledger yet" in (ws / "results" / "report.html").read_text()


def test_watch_argument_errors(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    bad = _report(ws, "--watch", "0")
    assert bad.returncode == 2 and "--watch: must be a positive number" in bad.stderr
    with_json = _report(ws, "--watch", "1", "--format", "json")
    assert with_json.returncode == 2 and "--watch writes files" in with_json.stderr


@pytest.mark.slow
def test_watch_rerenders_when_the_ledger_grows_and_stops_on_ctrl_c(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    report = ws / "results" / "report.md"
    proc = subprocess.Popen(
        [*CLI, "report", "--format", "md", "--watch", "0.2"],
        cwd=ws, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # Read stdout as it comes: the file is written before the "report updated" line is printed, so
    # waiting on the file alone and then pressing Ctrl-C can land between the two.
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()

    def updates() -> int:
        return sum("report updated" in line for line in list(lines))

    try:
        _wait_for(lambda: updates() == 1, proc)
        assert "e0009" in report.read_text() and "e0042" not in report.read_text()
        new = {"id": "e0042", "tag": "nov22", "event": "end", "status": "keep", "title": "Deeper localisation net",
               "metrics": {"pbqc": 0.70, "dice": 0.61}, "commit": "abc4242"}
        with (ws / "results" / "experiments.jsonl").open("a") as fh:
            fh.write(json.dumps(new) + "\n")
        _wait_for(lambda: updates() == 2, proc)
        # The new run dominates every keep, so it is the whole front now.
        assert "| 1 | e0042 ★ | abc4242 | 0.7000 | 0.6100 | — | keep | Deeper localisation net |  |" in report.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        reader.join(timeout=5)
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "stopped watching" in err
    assert updates() == 2


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            raise AssertionError(f"watch exited early: {proc.stderr.read()}")
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the report to change")


def test_a_ledger_of_two_loops_reports_the_newest_and_says_how_to_see_all(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    base = {"id": "e0010", "tag": "agent", "event": "end", "status": "baseline", "title": "baseline",
            "metrics": {"pbqc": 0.50, "dice": 0.40}, "commit": "abc1010"}
    with (ws / "results" / "experiments.jsonl").open("a") as fh:
        fh.write(json.dumps(base) + "\n")
    proc = _report(ws, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["experiments"] == 1
    assert "reporting tag agent, the newest (also in the ledger: nov22; --tag TAG picks one, --all" in proc.stderr
    assert json.loads(_report(ws, "--format", "json", "--all").stdout)["experiments"] == 10
    assert json.loads(_report(ws, "--format", "json", "--tag", "nov22").stdout)["experiments"] == 9
