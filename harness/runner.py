"""Run one experiment in its own process group, under a hard wall-clock limit.

Used by `gg-research run` and by the loop. The child is either the harness
(`python -m harness.child`) or, with `[run] command`, the user's own command, which must
write `$GG_RUN_DIR/last_run.json`.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Literal

from gg_research.config import CONFIG_NAME, Config, load_config
from gg_research.harness import wire

TERM_GRACE_S = 3.0


@dataclass
class RunResult:
    status: Literal["ok", "crash", "timeout"]
    metrics: dict[str, float]
    summary: dict
    run_dir: Path
    log_path: Path
    error: str
    wall_seconds: float
    returncode: int | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is left after a grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=TERM_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    # Members that ignored SIGTERM (or outlived the leader) do not get a second chance.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class _Sink:
    """Where a child's output goes: held in memory until its run (and so its run.log) is known."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = bytearray()
        self._log: IO[bytes] | None = None
        self._echo = False
        self._on_line: Callable[[str], None] | None = None
        self.ready = threading.Event()  # set when the child printed the ready line

    def attach(self, log: IO[bytes], echo: bool, on_line: Callable[[str], None] | None) -> None:
        with self._lock:
            log.write(bytes(self._held))
            log.flush()
            self._held.clear()
            self._log, self._echo, self._on_line = log, echo, on_line

    def detach(self) -> None:
        with self._lock:
            self._log = None

    def write(self, line: bytes) -> None:
        if wire.parse_ready(line.decode("utf-8", "replace")):
            self.ready.set()
        with self._lock:
            if self._log is None:
                self._held += line
                return
            self._log.write(line)
            self._log.flush()
            if self._on_line is not None:
                self._on_line(line.decode("utf-8", "replace"))
            elif self._echo:
                sys.stdout.write(line.decode("utf-8", "replace"))
                sys.stdout.flush()


def _pump(src: IO[bytes], sink: _Sink) -> None:
    for line in iter(src.readline, b""):
        sink.write(line)


def _child_argv(workspace: Path, config_json: Path, run_dir: str, seed: int, budget: float) -> list[str]:
    return [
        sys.executable, "-m", "gg_research.harness.child",
        "--workspace", str(workspace), "--run-dir", run_dir,
        "--seed", str(seed), "--budget", f"{budget!r}", "--config", str(config_json),
    ]


def _config_key(config: Config) -> str:
    """The config as a prestarted child must have loaded it: all but the per-run budget and seed."""
    data = config.model_dump(mode="json")
    data["run"].pop("budget_s", None)
    data["run"].pop("seed", None)
    return json.dumps(data, sort_keys=True)


class WarmChild:
    """A harness child started ahead of its run.

    It imports torch and the model libraries and loads the dataset, then waits on stdin for
    the run it belongs to. The loop starts the next one while the current run trains, so
    start-up leaves the iteration's critical path (on a GPU machine for free; on a CPU it
    shares the cores with the first seconds of training, the same for every run).
    """

    def __init__(self, workspace: Path, config: Config) -> None:
        self.workspace = Path(workspace).resolve()
        self.key = _config_key(config)
        state = self.workspace / ".gg" / "prestart"
        state.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="config-", suffix=".json", dir=state)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(config.model_dump_json(indent=2))
        self.config_json = Path(name)
        env = dict(os.environ)
        env.update(GG_WORKSPACE=str(self.workspace), PYTHONUNBUFFERED="1")
        argv = _child_argv(self.workspace, self.config_json, "-", config.run.seed, config.run.budget_s) + ["--prestart"]
        self.sink = _Sink()
        self.proc = subprocess.Popen(
            argv, cwd=self.workspace, env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.pump = threading.Thread(target=_pump, args=(self.proc.stdout, self.sink), daemon=True)
        self.pump.start()

    def wait_ready(self, timeout: float) -> bool:
        """True once the child has loaded everything and waits for its run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.sink.ready.wait(0.05):
                return True
        return self.sink.ready.is_set()

    def usable_for(self, config: Config) -> bool:
        return self.proc.poll() is None and self.key == _config_key(config)

    def go(self, run_dir: Path, seed: int, budget: float) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((wire.format_go(wire.Go(Path(run_dir), seed, budget)) + "\n").encode())
        self.proc.stdin.close()

    def close(self) -> None:
        """Stop an unused child (closing stdin lets it exit by itself; the group kill makes sure)."""
        self.sink.detach()
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            _kill_group(self.proc)
            self.proc.wait()
        self.pump.join(timeout=5)
        self.config_json.unlink(missing_ok=True)


class PrestartingRunner:
    """`run_experiment` with the next run's child always started ahead (see WarmChild).

    Call it like run_experiment; call close() when done so no idle child is left.
    """

    def __init__(self) -> None:
        self._warm: WarmChild | None = None

    def __call__(self, workspace: Path, run_dir: Path, *, config: Config | None = None, **kwargs: Any) -> RunResult:
        workspace = Path(workspace).resolve()
        config = config if config is not None else load_config(workspace / CONFIG_NAME)
        warm, self._warm = self._warm, None
        if warm is not None and not warm.usable_for(config):
            warm.close()
            warm = None

        def started() -> None:
            try:
                self._warm = WarmChild(workspace, config)
            except OSError:  # no prestart this time; the next run simply starts cold
                self._warm = None

        return run_experiment(workspace, run_dir, config=config, warm=warm, on_started=started, **kwargs)

    def close(self) -> None:
        if self._warm is not None:
            self._warm.close()
            self._warm = None


def _last_error(log_path: Path) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    marked = wire.last_error(text)
    if marked is not None:
        return marked
    rest = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return rest[-1] if rest else ""


def _read_summary(path: Path, objectives: list[str]) -> tuple[dict, str]:
    """(summary, '') when last_run.json is valid, else ({}, why not)."""
    if not path.is_file():
        return {}, "no last_run.json was written"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"{path}: unreadable last_run.json ({exc})"
    if not isinstance(data, dict):
        return {}, f"{path}: last_run.json is not a JSON object"
    for name in objectives:
        v = data.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return {}, f"{path}: last_run.json has no numeric {name!r}"
    return data, ""


def _numeric(summary: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def run_experiment(
    workspace: Path,
    run_dir: Path,
    *,
    config: Config | None = None,
    budget_s: float | None = None,
    seed: int | None = None,
    hard_limit_s: float | None = None,
    echo: bool = False,
    on_line: Callable[[str], None] | None = None,
    warm: WarmChild | None = None,
    on_started: Callable[[], None] | None = None,
) -> RunResult:
    """Run one experiment; never raises for a failed run (see RunResult.status), only re-raises Ctrl-C.

    echo=True copies the child's output to stdout as it comes; on_line, if given, receives
    each line instead (e.g. to drive a progress bar). run.log gets everything either way.
    warm: a prestarted harness child to use instead of starting one (ignored for [run] command).
    on_started: called once the run's child is running (the prestarting runner starts the next one then).
    """
    workspace = Path(workspace).resolve()
    run_dir = Path(run_dir).resolve()
    config = config if config is not None else load_config(workspace / CONFIG_NAME)
    if budget_s is not None:
        config = config.model_copy(deep=True)
        config.run.budget_s = budget_s
    budget = config.run.budget_s
    seed = config.run.seed if seed is None else seed
    limit = hard_limit_s if hard_limit_s is not None else config.run.effective_hard_limit()
    run_dir.mkdir(parents=True, exist_ok=True)
    summary_path = run_dir / "last_run.json"
    summary_path.unlink(missing_ok=True)  # a stale file must not pass for this run's result
    log_path = run_dir / "run.log"

    env = dict(os.environ)
    env.update(GG_RUN_DIR=str(run_dir), GG_BUDGET=f"{budget:g}", GG_SEED=str(seed), GG_WORKSPACE=str(workspace))
    env.setdefault("PYTHONUNBUFFERED", "1")
    if config.run.command:
        argv = shlex.split(config.run.command)
        if warm is not None:
            warm.close()
            warm = None
    else:
        config_json = run_dir / "config.json"
        config_json.write_text(config.model_dump_json(indent=2), encoding="utf-8")
        argv = _child_argv(workspace, config_json, str(run_dir), seed, budget)
    if warm is not None and not warm.usable_for(config):
        warm.close()
        warm = None

    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        if warm is not None:
            proc, pump, sink = warm.proc, warm.pump, warm.sink
            sink.attach(log, echo, on_line)
            try:
                warm.go(run_dir, seed, budget)
            except OSError:  # it died between the check and the go: its log says why
                pass
        else:
            try:
                proc = subprocess.Popen(
                    argv, cwd=workspace, env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                )
            except OSError as exc:
                log.write((wire.format_error(f"cannot start {argv[0]!r}: {exc}") + "\n").encode())
                return RunResult("crash", {}, {}, run_dir, log_path, f"cannot start {argv[0]!r}: {exc.strerror or exc}", 0.0)
            sink = _Sink()
            sink.attach(log, echo, on_line)
            pump = threading.Thread(target=_pump, args=(proc.stdout, sink), daemon=True)
            pump.start()
        if on_started is not None:
            on_started()
        timed_out = False
        try:
            proc.wait(timeout=max(limit - (time.monotonic() - t0), 0.01))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            proc.wait()
        except KeyboardInterrupt:
            _kill_group(proc)
            proc.wait()
            raise
        finally:
            # Anything the child left behind in its group (e.g. loader workers) goes too.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            pump.join(timeout=5)
    wall = time.monotonic() - t0
    if warm is not None:
        warm.config_json.unlink(missing_ok=True)  # only now: the child may read it late

    if timed_out:
        return RunResult("timeout", {}, {}, run_dir, log_path, f"killed at the hard limit of {limit:g} s", wall, proc.returncode)
    summary, why = _read_summary(summary_path, [o.name for o in config.objectives])
    if proc.returncode == 0 and summary:
        return RunResult("ok", _numeric(summary), summary, run_dir, log_path, "", wall, 0)
    error = _last_error(log_path) if proc.returncode != 0 else why
    if not error:
        error = f"exited with status {proc.returncode}"
    return RunResult("crash", {}, {}, run_dir, log_path, error, wall, proc.returncode)
