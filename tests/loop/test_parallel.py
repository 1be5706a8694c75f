"""loop --workers N: local Ray on this machine's CPUs, each experiment in its own worktree, verdicts in arrival order."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from tests.harness.procs import live_processes_mentioning
from tests.loop.fakes import edit, git, make_workspace, records, tsv_rows, write_script
from tests.loop.tiny_harness import TINY_TRAIN, make_real_workspace

ray = pytest.importorskip("ray", reason="the parallel extra is not installed (pip install 'gg-research[parallel]')")

CLI = [sys.executable, "-m", "gg_research.cli", "loop"]
# Ray's per-node agents notice a killed head only after a GCS timeout (about a minute); they run
# no experiment and hold no workspace file, so they are not what "no run survives" is about.
RAY_AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent", "ray::IDLE")


def _started(ws: Path, exp_id: str) -> bool:
    """Whether experiment `exp_id`'s [run] command wrote its pid: in its own output folder, in the
    worktree of the slot it runs in."""
    return bool(list(Path(f"{ws}.worktrees").glob(f"*/*/.gg/runs/cmd-*/{exp_id}/pid"))
                + list(ws.glob(f".gg/runs/cmd-*/{exp_id}/pid")))


def _probing_train(ws: Path) -> str:
    """The tiny train.py, printing where it runs and whether it can see the workspace's state."""
    from gg_research.harness.data import data_home

    probe = f'''
import os
X = 0


def _probe():
    print("cwd", os.getcwd(), flush=True)
    import glob
    for name in ("results/experiments.jsonl", ".git/HEAD"):  # hidden: empty folders
        print("sees", name, bool(glob.glob({str(ws)!r} + "/" + name)), flush=True)
    print("sees the labels", bool(glob.glob({str(data_home())!r} + "/workspaces/*/data/*/manifest.jsonl")), flush=True)
'''
    train = TINY_TRAIN.replace('MODE = "ok"', 'MODE = "ok"' + probe, 1)
    return train.replace("    model = Tiny().to(ctx.device)", "    _probe()\n    model = Tiny().to(ctx.device)", 1)


class Recording:
    """The scripted proposer, noting which experiments each request was told were in flight."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.wants_passages = inner, inner.name, inner.wants_passages
        self.passages_k, self.checks_novelty = inner.passages_k, inner.checks_novelty
        self.pending: list[list[str]] = []

    def propose(self, state, feedback):
        self.pending.append([e.id for e in state.pending])
        return self.inner.propose(state, feedback)

    def tell_baseline(self, exp) -> None:
        self.inner.tell_baseline(exp)

    def tell(self, exp) -> None:
        self.inner.tell(exp)


def _kill_worker_of(run_dir: Path, stop: threading.Event) -> None:
    """Kill -9 the Ray worker running an experiment, once its run has started."""
    info, log = run_dir / "worker.json", run_dir / "run.log"
    while not stop.is_set():
        if info.is_file() and log.is_file() and "\ncwd " in log.read_text(errors="replace"):  # train.py is running
            os.kill(json.loads(info.read_text())["pid"], signal.SIGKILL)
            return
        time.sleep(0.1)


@pytest.mark.slow
def test_two_workers_worktrees_verdicts_in_arrival_order_and_a_killed_worker(tmp_path: Path) -> None:
    from gg_research.config import load_config
    from gg_research.harness.sandbox import bwrap_works
    from gg_research.loop.engine import Options
    from gg_research.loop.parallel import ParallelEngine, ParallelUI
    from gg_research.loop.proposers.select import proposer_factory

    ws = tmp_path / "ws"
    ws = make_real_workspace(ws, None, budget_s=2.0, hard_limit_s=60.0, seeds=1, train=_probing_train(ws))
    script = write_script(ws, [
        edit("hang", 'MODE = "ok"', 'MODE = "hang"'),
        edit("predict all (A)", "PREDICT_ALL = False", "PREDICT_ALL = True"),
        # From the baseline too, whatever is kept meanwhile: the same gain, so whichever of A and B
        # arrives second meets the other on the front and is within its noise.
        {**edit("predict all (B)", "X = 0\n", "X = 1\n"), "edits": [
            {"path": "train.py", "search": "PREDICT_ALL = False", "replace": "PREDICT_ALL = True"},
            {"path": "train.py", "search": "X = 0\n", "replace": "X = 1\n"}], "parent": "e0001"},
        edit("a dud", "X = 0\n", "X = 2\n"),
    ])
    buf = io.StringIO()
    ui = ParallelUI(Console(file=buf, width=200))
    recording: list[Recording] = []

    def factory(ctx):
        recording.append(Recording(proposer_factory("scripted", str(script), say=ui.say)(ctx)))
        return recording[0]

    stop = threading.Event()
    killer = threading.Thread(target=_kill_worker_of, args=(ws / "results" / "runs" / "e0002", stop), daemon=True)
    killer.start()
    eng = ParallelEngine(ws, load_config(ws / "gg-research.toml"), Options(tag="p", write_report=False), factory,
                         workers=2, ui=ui)
    try:
        assert eng.run() == 0, buf.getvalue()
    finally:
        stop.set()
    out = buf.getvalue()
    recs = records(ws)
    by = {r.title: r for r in recs}
    assert [r.id for r in recs] == ["e0001", "e0002", "e0003", "e0004", "e0005"], out
    base = recs[0]
    assert base.status == "baseline" and len(base.seeds) == 2 and all(s.ok for s in base.seeds)  # a seed a worker

    # A worker killed mid-run: that experiment is a crash and the night goes on.
    assert by["hang"].status == "crash" and "Ray worker" in by["hang"].reason, by["hang"].reason
    # The proposer was asked while others ran, and told which.
    assert any(p for p in recording[0].pending), recording[0].pending
    assert recording[0].pending[1] == ["e0002"]

    # Verdicts one at a time against the front as it stood: one of two equal gains is kept.
    a, b = by["predict all (A)"], by["predict all (B)"]
    assert sorted([a.status, b.status]) == ["discard", "keep"], out
    kept, other = (a, b) if a.status == "keep" else (b, a)
    assert "kept run" in other.reason and other.metrics["dice"] == pytest.approx(kept.metrics["dice"])
    assert b.parent == "e0001"
    assert by["a dud"].status == "discard"
    assert sorted(git(ws, "tag", "--list", "gg/p/*").split()) == ["gg/p/e0001", f"gg/p/{kept.id}"]
    assert git(ws, "rev-parse", "autoresearch/p").strip() == kept.commit
    assert git(ws, "rev-parse", "HEAD").strip() == kept.commit and "PREDICT_ALL = True" in (ws / "train.py").read_text()

    # Each experiment ran in its slot's worktree, outside the workspace, which its box hid; the
    # two in flight together had one each.
    cwds = {}
    for r in recs[1:]:
        log = (ws / r.log).read_text()
        cwds[r.id] = next(line.split(" ", 1)[1] for line in log.splitlines() if line.startswith("cwd "))
        assert cwds[r.id].startswith(f"{ws}.worktrees{os.sep}p{os.sep}"), cwds[r.id]
        if bwrap_works() is None:
            assert "sees results/experiments.jsonl False" in log and "sees the labels False" in log, log
            assert "sees .git/HEAD False" in log, log
    slots = f"{ws}.worktrees{os.sep}p{os.sep}slot"
    assert set(cwds.values()) == {slots + "0000", slots + "0001"}, cwds
    assert cwds["e0002"] != cwds["e0003"]  # the hang and A ran at the same time
    assert git(ws, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not Path(f"{ws}.worktrees").exists()  # the night's worktrees went with it

    # The ledger: a start and an end line per experiment, a TSV row each.
    lines = [json.loads(line) for line in (ws / "results" / "experiments.jsonl").read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == sorted([r.id for r in recs] * 2)
    ends = [line["id"] for line in lines if line.get("status") != "running"]
    assert [row[0] for row in tsv_rows(ws)[1:]] == ends  # rows in the order of the verdicts
    assert sorted(ends) == [r.id for r in recs]


def _run_processes(ws: Path) -> list[int]:
    def agent(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").startswith(RAY_AGENTS)
        except OSError:
            return False
    return [pid for pid in live_processes_mentioning(str(ws)) if not agent(pid)]


@pytest.mark.slow
def test_kill_9_with_runs_in_flight_then_resume_records_each_once_as_interrupted(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", hard=60)
    script = write_script(ws, [
        edit("hang 1", 'MODE = "ok"', 'MODE = "hang"'),
        # MODE is set after QB in train.py: the hang must replace MODE's own line, or the second run
        # finishes (and may be kept) before the kill whenever the first one is slow to start.
        edit("hang 2", 'MODE = "ok"', 'MODE = "hang"\nQB = 1.5'),
        edit("QA up", "QA = 1.0", "QA = 2.0"),
    ])
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    args = [*CLI, "--tag", "k", "--script", str(script), "--workers", "2", "--no-report"]
    proc = subprocess.Popen(args, cwd=ws, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not all(_started(ws, e) for e in ("e0002", "e0003")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the two runs never started"
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    end = time.monotonic() + 20
    while _run_processes(ws) and time.monotonic() < end:  # the runs die with the Ray that the loop started
        time.sleep(0.2)
    assert not _run_processes(ws), [Path(f"/proc/{p}/cmdline").read_bytes()[:120] for p in _run_processes(ws)]
    assert [r.status for r in records(ws)] == ["baseline", "running", "running"]
    assert len(list((Path(f"{ws}.worktrees") / "k").glob("slot*"))) == 2

    done = subprocess.run(args, cwd=ws, env=env, text=True, capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "removed 2 worktree(s) left by a loop that died" in done.stdout
    recs = records(ws)
    assert [(r.id, r.status) for r in recs] == [("e0001", "baseline"), ("e0002", "interrupted"),
                                                ("e0003", "interrupted"), ("e0004", "keep")]
    lines = (ws / "results" / "experiments.jsonl").read_text().splitlines()
    assert len(lines) == 8  # once each: one start and one end line per experiment
    assert git(ws, "rev-parse", "autoresearch/k").strip() == recs[3].commit
    assert git(ws, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_worktree_runs_hide_the_workspace_they_came_from(tmp_path: Path) -> None:
    from gg_research.workspace_map import box_hidden, origin_workspace

    ws = make_workspace(tmp_path / "ws")
    wt = tmp_path / "elsewhere" / "slot0001"
    git(ws, "worktree", "add", "--detach", "--quiet", str(wt), "HEAD")
    assert origin_workspace(wt) == ws.resolve()
    assert origin_workspace(ws) is None
    hidden = set(box_hidden(wt, None))
    assert {ws.resolve() / n for n in (".gg", "results", ".git")} <= hidden
    assert {wt / n for n in (".gg", "results", ".git")} <= hidden


def test_a_node_that_cannot_see_the_workspace_is_a_crash_that_says_so(tmp_path: Path) -> None:
    from gg_research.loop.workers import visible

    assert visible(tmp_path, tmp_path / "run") is None
    res = visible(tmp_path / "not-mounted", tmp_path / "run")
    assert res is not None and res.status == "crash"
    assert "not visible on Ray node" in res.error and "same path" in res.error


def test_two_workers_without_ray_is_a_one_line_setup_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.config import Config
    from gg_research.loop.errors import LoopSetupError
    from gg_research.loop.workers import RayPool

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where the extra is not installed
    with pytest.raises(LoopSetupError, match=r"pip install 'gg-research\[parallel\]'"):
        RayPool(Config(), 2).start()


def test_the_serial_loop_never_imports_ray(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    script = write_script(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")])
    code = ("import sys; from gg_research.cli import main; rc = main(['loop', '--tag', 's', '--workers', '1', "
            f"'--script', {str(script)!r}, '--no-report']); print('ray imported:', 'ray' in sys.modules); sys.exit(rc)")
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ws, env=env, text=True, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ray imported: False" in done.stdout
    assert [r.status for r in records(ws)] == ["baseline", "keep"]


def test_an_unreachable_cluster_address_is_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.config import Config
    from gg_research.loop.errors import LoopSetupError
    from gg_research.loop.workers import RayPool

    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")  # the discard port: nothing listens
    t0 = time.monotonic()
    with pytest.raises(LoopSetupError, match=r"Ray cluster at 127\.0\.0\.1:9 cannot be reached"):
        RayPool(Config(), 2).start()
    assert time.monotonic() - t0 < 10


@pytest.mark.slow
def test_ctrl_c_records_the_runs_in_flight_as_interrupted_and_a_cluster_by_address_is_left_running(
        tmp_path: Path) -> None:
    """On a Ray cluster of its own (ray start), as a lab's would be: the loop uses it and does not stop it."""
    ws = make_workspace(tmp_path / "ws", hard=60)
    script = write_script(ws, [edit("hang 1", 'MODE = "ok"', 'MODE = "hang"'),
                               edit("hang 2", 'MODE = "ok"', 'MODE = "hang"\nQB = 1.5')])
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["RAY_AUTH_MODE"] = "token"  # the cluster's token (~/.ray/auth_token) is sent, as on a lab's nodes
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    port = 26000 + os.getpid() % 3000
    ray_cli = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]
    subprocess.run([*ray_cli, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                    f"--temp-dir={ray_tmp}"], env=env, check=True, capture_output=True, timeout=120)
    try:
        env["RAY_ADDRESS"] = f"127.0.0.1:{port}"
        proc = subprocess.Popen([*CLI, "--tag", "c", "--script", str(script), "--workers", "2", "--no-report"],
                                cwd=ws, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not all(_started(ws, e) for e in ("e0002", "e0003")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the two runs never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert [(r.id, r.status) for r in records(ws)] == [("e0001", "baseline"), ("e0002", "interrupted"),
                                                           ("e0003", "interrupted")], out
        assert git(ws, "rev-parse", "HEAD").strip() == records(ws)[0].commit
        assert git(ws, "worktree", "list", "--porcelain").count("worktree ") == 1
        status = subprocess.run([*ray_cli, "status", f"--address=127.0.0.1:{port}"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert status.returncode == 0, status.stderr  # the loop left the lab's cluster running
    finally:
        subprocess.run([*ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_parses_of_python_source_take_turns_across_threads(tmp_path: Path) -> None:
    """CPython 3.11 can fail two ASTs built at once with a spurious SystemError: a flight thread
    fingerprinting the sources and the main thread reading the next search space must take turns."""
    from gg_research.ggnet.sources import AST_LOCK, PACKAGE, module_files
    from gg_research.loop.search_space import parse_file

    text = "LR = 3e-4  # search: log(1e-5, 1e-2)\n"
    done: dict[str, object] = {}
    jobs = {"space": lambda: parse_file("train.py", text), "sources": lambda: module_files([PACKAGE + ".sources"], [PACKAGE])}
    with AST_LOCK:
        threads = [threading.Thread(target=lambda k=k, f=f: done.__setitem__(k, f()), daemon=True) for k, f in jobs.items()]
        for t in threads:
            t.start()
        time.sleep(0.5)
        assert done == {}  # both wait for the lock
    for t in threads:
        t.join(timeout=10)
    assert [p.name for p in done["space"]] == ["LR"]
    assert any(p.name == "sources.py" for p in done["sources"])


@pytest.mark.slow
def test_ctrl_c_between_a_parallel_keeps_tag_and_its_end_line_records_it_once_and_undoes_tag_and_tip(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parallel loop's keep tags the commit and moves the branch's tip to it before the end line:
    a Ctrl-C there is recorded (interrupted), the tag deleted and the tip put back (Session.wind_down)."""
    from gg_research.config import load_config
    from gg_research.loop.engine import Options
    from gg_research.loop.parallel import ParallelEngine, ParallelUI
    from gg_research.loop.proposers.select import proposer_factory
    from gg_research.loop.session import Session

    ws = make_workspace(tmp_path / "ws")
    script = write_script(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")])
    real = Session.end

    def ctrl_c_first(self: Session, exp, fate) -> None:
        if exp.id == "e0002" and fate.status.kept:
            raise KeyboardInterrupt
        real(self, exp, fate)

    monkeypatch.setattr(Session, "end", ctrl_c_first)
    buf = io.StringIO()
    ui = ParallelUI(Console(file=buf, width=200))
    eng = ParallelEngine(ws, load_config(ws / "gg-research.toml"), Options(tag="p", write_report=False),
                         proposer_factory("scripted", str(script), say=ui.say), workers=2, ui=ui)
    assert eng.run() == 130, buf.getvalue()
    recs = records(ws)
    assert [(r.id, r.status.value) for r in recs] == [("e0001", "baseline"), ("e0002", "interrupted")], buf.getvalue()
    assert git(ws, "tag", "--list", "gg/p/*").split() == ["gg/p/e0001"]
    assert git(ws, "rev-parse", "HEAD").strip() == recs[0].commit
    ends = [ln for ln in (ws / "results" / "experiments.jsonl").read_text().splitlines()
            if '"event": "end"' in ln and '"e0002"' in ln]
    assert len(ends) == 1
