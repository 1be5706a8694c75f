"""A `[run] command`: the user's own trainer instead of train.py, in the same box.

It runs without a shell, gets its budget, seed and folders in GG_ variables, and writes
`$GG_RUN_DIR/last_run.json` into an output folder of its own (or prints a `---` summary),
from which the parent takes that file, its per-image evidence and its weights. It scores
itself: the parent adds only its own keys (whether it was boxed, the wall time it took).
"""

from __future__ import annotations

import shlex
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gg_research.harness import curves, wire
from gg_research.harness.box import RunBox, run_limits
from gg_research.harness.outputs import discard, folder_bytes, over_output_cap
from gg_research.harness.process import ChildProcess, exit_reason
from gg_research.harness.run_files import EVIDENCE_CAP, PARENT_FILES, PARENT_KEYS, SUMMARY_CAP, read_summary
from gg_research.harness.sandbox import child_env
from gg_research.harness.summary import write_json_atomic
from gg_research.workspace_map import PER_IMAGE_FILE, RUN_LOG, SUMMARY_FILE, WEIGHTS_FILE, WorkspaceMap

if TYPE_CHECKING:
    from gg_research.harness.runner import RunResult, _Run


def run_command(run: _Run, echo: bool, on_line: Callable[[str], None] | None) -> RunResult:
    """The command of `run`'s config, boxed as train.py is (harness.box), to its RunResult."""
    cfg = run.cfg
    runs = WorkspaceMap(run.ws).box_outputs
    runs.mkdir(parents=True, exist_ok=True)
    # Named like the run folder (a command may tell a re-run by its folder's name).
    out = Path(tempfile.mkdtemp(prefix="cmd-", dir=runs)) / run.run_dir.name
    out.mkdir()
    try:
        box = RunBox(run.ws, cfg, out=out)
    except BaseException:  # no box here ([run] sandbox = "bwrap" without bubblewrap): nothing left behind
        discard(out.parent)
        raise
    try:
        box.stage()
        inner = shlex.split(cfg.run.command)
        env = child_env({"GG_RUN_DIR": str(out), "GG_BUDGET": f"{run.budget:g}", "GG_BUDGET_IMAGES": str(run.images),
                         "GG_SEED": str(run.seed), "GG_WORKSPACE": str(run.ws)}, box.home)
        with open(run.log_path, "wb") as log:
            if box.isolation.warning:
                log.write((box.isolation.warning + "\n").encode())
            try:
                p = ChildProcess(box.wrap(inner), cwd=run.ws, env=env, limits=run_limits(cfg),
                                 max_log_bytes=int(cfg.run.max_log_mb * 2**20), stdin=False)
            except OSError as exc:
                log.write((wire.format_error(f"cannot start {inner[0]!r}: {exc}") + "\n").encode())
                return run.end("crash", f"cannot start {inner[0]!r}: {exc.strerror or exc}")
            p.sink.attach(log, echo, on_line)
            ended = _wait(run, p, out)
            if ended is not None:
                return ended
        # A command scores itself: its result, its per-image evidence and its weights come along, and
        # its own log when [run] summary_log names one, to be read for its summary.
        caps = {SUMMARY_FILE: SUMMARY_CAP, PER_IMAGE_FILE: EVIDENCE_CAP, WEIGHTS_FILE: int(cfg.run.max_output_mb * 2**20)}
        if cfg.run.summary_log and cfg.run.summary_log not in (*PARENT_FILES, RUN_LOG):
            caps[cfg.run.summary_log] = int(cfg.run.max_log_mb * 2**20)
        taken = run._take(out, caps)
        if not isinstance(taken, list):
            return taken
    finally:
        discard(out.parent)
        box.close()
    return _judged(run, p, box)


def _judged(run: _Run, p: ChildProcess, box: RunBox) -> RunResult:
    """The ended command's result: ok with its summary, else a crash with the reason it gave."""
    cfg, isolation = run.cfg, box.isolation
    log = run.run_dir / cfg.run.summary_log if cfg.run.summary_log else run.log_path
    summary, why = read_summary(run.summary_path, [o.name for o in cfg.objectives], log)
    if summary:
        summary = {k: v for k, v in summary.items() if k not in PARENT_KEYS}
        summary.update(boxed=1 if isolation.bwrap else 0, isolation=isolation.label,
                       total_seconds=round(time.monotonic() - run.t0, 3))
        write_json_atomic(run.summary_path, summary)
    if p.proc.returncode == 0 and summary:
        return run.end("ok", summary=summary, rc=0)
    error = run._error(p) if p.proc.returncode != 0 else why
    return run.end("crash", error or exit_reason(p.proc.returncode, isolation.bwrap), rc=p.proc.returncode)


def _wait(run: _Run, p: ChildProcess, out: Path) -> RunResult | None:
    """Wait for the command under the hard limit and the output cap; a RunResult when it broke one."""
    max_out = int(run.cfg.run.max_output_mb * 2**20)
    try:
        while p.alive():
            if time.monotonic() > run.t0 + run.limit:
                p.kill()
                return run.end("timeout", f"killed at the hard limit of {run.limit:g} s")
            written = folder_bytes(out)
            if written > max_out:
                p.kill()
                return run.end("invalid", over_output_cap(written, run.cfg.run.max_output_mb))
            time.sleep(0.1)
    except KeyboardInterrupt:
        p.kill()
        raise
    finally:
        p.finish()
        curves.save(p.sink.curves, run.folder.curves, run.t0)
    return None
