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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Literal

from gg_research.config import CONFIG_NAME, Config, load_config

ERROR_MARK = "GG-RUN-ERROR:"  # the child's one-line reason (harness.child prints it)
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


def _pump(src: IO[bytes], log: IO[bytes], echo: bool, on_line: Callable[[str], None] | None) -> None:
    for line in iter(src.readline, b""):
        log.write(line)
        log.flush()
        if on_line is not None:
            on_line(line.decode("utf-8", "replace"))
        elif echo:
            sys.stdout.write(line.decode("utf-8", "replace"))
            sys.stdout.flush()


def _last_error(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    marked = [ln.split(ERROR_MARK, 1)[1].strip() for ln in lines if ERROR_MARK in ln]
    if marked:
        return marked[-1]
    rest = [ln.strip() for ln in lines if ln.strip()]
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
) -> RunResult:
    """Run one experiment; never raises for a failed run (see RunResult.status), only re-raises Ctrl-C.

    echo=True copies the child's output to stdout as it comes; on_line, if given, receives
    each line instead (e.g. to drive a progress bar). run.log gets everything either way.
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
    else:
        config_json = run_dir / "config.json"
        config_json.write_text(config.model_dump_json(indent=2), encoding="utf-8")
        argv = [
            sys.executable, "-m", "harness.child",
            "--workspace", str(workspace), "--run-dir", str(run_dir),
            "--seed", str(seed), "--budget", f"{budget!r}", "--config", str(config_json),
        ]

    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.Popen(
                argv, cwd=workspace, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as exc:
            log.write(f"{ERROR_MARK} cannot start {argv[0]!r}: {exc}\n".encode())
            return RunResult("crash", {}, {}, run_dir, log_path, f"cannot start {argv[0]!r}: {exc.strerror or exc}", 0.0)
        pump = threading.Thread(target=_pump, args=(proc.stdout, log, echo, on_line), daemon=True)
        pump.start()
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

    if timed_out:
        return RunResult("timeout", {}, {}, run_dir, log_path, f"killed at the hard limit of {limit:g} s", wall, proc.returncode)
    summary, why = _read_summary(summary_path, [o.name for o in config.objectives])
    if proc.returncode == 0 and summary:
        return RunResult("ok", _numeric(summary), summary, run_dir, log_path, "", wall, 0)
    error = _last_error(log_path) if proc.returncode != 0 else why
    if not error:
        error = f"exited with status {proc.returncode}"
    return RunResult("crash", {}, {}, run_dir, log_path, error, wall, proc.returncode)
