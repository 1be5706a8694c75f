"""Run one experiment: the trusted parent of the child that runs train.py.

Used by `gg-research run` and by the loop. With train.py, the child (harness.child) trains in
the sandbox (harness.sandbox) on a view of the data without validation labels and writes
predictions; this process, which never imports train.py, keeps the training budget by its own
clock, scores the predictions against the labels only it holds (harness.scorer), checks that
the data did not change, and writes last_run.json and the summary. With `[run] command`, the
user's own command runs in the same box (harness.own_command) and scores itself.

The box of either is harness.box's; whether a late run broke its budget is harness.lateness's
judgement; what the parent reads of a run's files, harness.run_files'.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from gg_research.config import Config, load_config
from gg_research.errors import GGError
from gg_research.harness import curves, wire
from gg_research.harness.box import Isolation, memory_gb
from gg_research.harness.errors import NotComparable, TrainContractError
from gg_research.harness.lateness import over_budget
from gg_research.harness.load import MachineMeter, machine_load
from gg_research.harness.outputs import OutputProblem, folder_bytes, over_output_cap, remove_own, take
from gg_research.harness.process import ChildProcess, exit_reason
from gg_research.harness.run_files import PARENT_FILES, REPORT_CAP, untrusted_report
from gg_research.harness.summary import format_summary, write_json_atomic
from gg_research.harness.warm import HarnessChild
from gg_research.workspace_map import (CONFIG_NAME, PREDICTIONS_FILE, TEST_PREDICTIONS_FILE, TRAIN_REPORT_FILE,
                                      WEIGHTS_FILE, RunFolder)

RunStatus = Literal["ok", "crash", "timeout", "invalid"]  # a run as the harness ends it; an experiment's fate is results.lifecycle.Status


@dataclass
class RunResult:
    status: RunStatus  # invalid: it broke the rules (trained past its budget, changed the data)
    metrics: dict[str, float]
    summary: dict[str, Any]
    run_dir: Path
    log_path: Path
    error: str
    wall_seconds: float
    returncode: int | None = field(default=None)


class PrestartingRunner:
    """`run_experiment` with the next run's child always started ahead; close() when done."""

    def __init__(self) -> None:
        self._warm: HarnessChild | None = None

    def __call__(self, workspace: Path, run_dir: Path, *, config: Config | None = None, **kwargs: Any) -> RunResult:
        warm, self._warm = self._warm, None

        def started(next_child: Callable[[], HarnessChild]) -> None:
            try:
                self._warm = next_child()
            except OSError:  # no prestart this time; the next run simply starts cold
                self._warm = None

        return run_experiment(workspace, run_dir, config=config, warm=warm, on_started=started, **kwargs)

    def close(self) -> None:
        if self._warm is not None:
            self._warm.close()
            self._warm = None


def run_experiment(
    workspace: Path,
    run_dir: Path,
    *,
    config: Config | None = None,
    seed: int | None = None,
    hard_limit_s: float | None = None,
    echo: bool = False,
    on_line: Callable[[str], None] | None = None,
    warm: HarnessChild | None = None,
    on_started: Callable[[Callable[[], HarnessChild]], None] | None = None,
) -> RunResult:
    """Run one experiment; never raises for a failed run (see RunResult.status), only re-raises Ctrl-C.

    echo=True copies the child's output to stdout as it comes; on_line, if given, receives each
    line instead (e.g. to drive a progress bar). run.log gets everything either way (up to
    [run] max_log_mb). warm: a prestarted child; on_started: called once this run's child got
    its go, with a function that starts the next one. The budget is the config's (a command's flags
    are applied to it before); `seed` is this run's, when the caller runs several.
    """
    workspace = Path(workspace).resolve()
    run_dir = Path(run_dir).resolve()
    config = config if config is not None else load_config(workspace / CONFIG_NAME)
    if seed is not None and seed != config.run.seed:
        config = config.model_copy(update={"run": config.run.model_copy(update={"seed": seed})})
    run = _Run(workspace, run_dir, config, hard_limit_s if hard_limit_s is not None else config.run.effective_hard_limit())
    try:
        if config.run.command:
            from gg_research.harness.own_command import run_command

            return run_command(run, echo, on_line)
        return run.harness(echo, on_line, warm, on_started)
    except (KeyboardInterrupt, GGError):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a run's files do to the parent is that run's failure
        return run.failed(exc)
    finally:
        if warm is not None and not run.used_warm:
            warm.close()


class _Run:
    """The steps of one run, in order; the first that fails ends it with its RunResult."""

    def __init__(self, workspace: Path, run_dir: Path, config: Config, limit: float) -> None:
        self.ws, self.run_dir, self.cfg, self.limit = workspace, run_dir, config, limit
        self.budget, self.seed = config.run.budget_s, config.run.seed
        self.images = config.run.budget_images if config.run.budget == "images" else 0
        self.figures: dict[str, float] = {}
        # Whether the run's work is on a GPU (CPU time then says little of how much it trained).
        self.on_gpu = config.run.device != "cpu" and shutil.which("nvidia-smi") is not None
        self.t0 = time.monotonic()
        self.used_warm = False
        run_dir.mkdir(parents=True, exist_ok=True)
        self.folder = RunFolder(run_dir)
        self.summary_path, self.log_path = self.folder.summary, self.folder.log
        for name in PARENT_FILES:  # a stale file must not pass for this run's result
            remove_own(run_dir / name)
        remove_own(self.log_path)

    def failed(self, exc: Exception) -> RunResult:
        """The run is invalid, with one line; the traceback goes to its log for whoever debugs it."""
        import traceback

        reason = f"the harness could not handle this run's output: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        try:
            with open(self.log_path, "ab") as log:
                log.write(("".join(traceback.format_exception(exc)) + wire.format_error(reason) + "\n").encode())
        except OSError:
            pass
        return self.end("invalid", reason)

    def end(self, status: RunStatus, error: str = "", summary: dict[str, Any] | None = None, rc: int | None = None) -> RunResult:
        summary = summary or {}
        metrics = {k: float(v) for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return RunResult(status, metrics, summary, self.run_dir, self.log_path, error, time.monotonic() - self.t0, rc)

    # -- train.py under the harness -------------------------------------------------------------
    def harness(self, echo: bool, on_line: Callable[[str], None] | None, warm: HarnessChild | None,
                on_started: Callable[[Callable[[], HarnessChild]], None] | None) -> RunResult:
        from gg_research.harness.data import dataset_root
        from gg_research.harness.scorer import data_state, train_split, trainer_view, val_labels

        with open(self.log_path, "wb") as log:
            try:
                isolation = Isolation.of(self.cfg)
                root = dataset_root(self.ws, self.cfg)
                before = data_state(root)
                view = trainer_view(self.ws, self.cfg, root, before)
                self.train_set = train_split(view)  # served to the run a batch at a time, counted here
                labels = val_labels(self.ws, root, self.cfg, before["val"])  # held by this process only
            except (TrainContractError, OSError) as exc:
                log.write((wire.format_error(str(exc)) + "\n").encode())
                return self.end("crash", str(exc))
            if isolation.warning:  # the terminal was told once, by the command; each log says it too
                log.write((isolation.warning + "\n").encode())
            if warm is not None and warm.usable_for(self.cfg, view.dir):
                child, self.used_warm = warm, True
            else:
                child = HarnessChild(self.ws, self.cfg, view.dir, root)
            child.child.sink.attach(log, echo, on_line)
            try:
                ended = self._train(child, on_started, lambda: HarnessChild(self.ws, self.cfg, view.dir, root))
                taken = self._take(child.out, _child_caps(self.cfg, len(labels), root, before))
                if ended is not None:
                    return ended
                if isinstance(taken, RunResult):
                    return taken
                return self._score(child, root, before, labels, isolation, log, echo, on_line)
            finally:
                child.close()
                curves.save(child.child.sink.curves, self.folder.curves, getattr(self, "t_go", self.t0))

    def _take(self, out: Path, caps: dict[str, int]) -> list[str] | RunResult:
        """The expected files of the run's output folder, copied into the run folder (harness.outputs)."""
        try:
            return take(out, self.run_dir, caps)
        except OutputProblem as exc:
            return self.end("invalid", str(exc))
        except OSError as exc:
            return self.end("crash", f"cannot read the run's output: {exc}")

    def _train(self, child: HarnessChild, on_started: Callable[[Callable[[], HarnessChild]], None] | None,
               next_child: Callable[[], HarnessChild]) -> RunResult | None:
        """Start the run and keep its budget by this process's clock; a RunResult when it ends badly.

        The clock runs from the go line until the child has exited with its predictions written:
        nothing the run prints stops it. A run late while other processes kept the machine busy is
        not blamed for it (its lateness is recorded); one late on a quiet machine is invalid.
        """
        p, out = child.child, child.out
        if not p.wait_ready(max(self.t0 + self.limit - time.monotonic(), 0.01)):
            if p.alive():
                p.kill()
                return self.end("timeout", f"killed at the hard limit of {self.limit:g} s (still starting)")
            p.finish()
            return self.end("crash", self._error(p), rc=p.proc.returncode)
        child.stage()  # the experiment's own files, as committed now, for a child started ahead of it
        child.feed.serve(self.train_set, self.images)
        p.send(wire.format_go(wire.Go(out, self.seed, self.budget, self.images)))
        self.t_go = time.monotonic()
        meter = MachineMeter(p.proc.pid, p.limits.cpu_seconds)
        if on_started is not None:
            on_started(next_child)
        allowed = self.budget + self.cfg.run.grace(self.budget) + self.cfg.run.eval_limit(self.budget)
        max_out = int(self.cfg.run.max_output_mb * 2**20)
        next_check = 0.0
        try:
            while p.alive():
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + 1.0  # the output folder's size: `du` on whatever the run made
                    meter.sample()
                    if p.sink.trained_at is not None and not self.figures:
                        self.figures = machine_load(p.proc.pid, on_gpu=self.cfg.run.device != "cpu")
                    written = folder_bytes(out)
                    if written > max_out:
                        p.kill()
                        return self.end("invalid", over_output_cap(written, self.cfg.run.max_output_mb))
                if now > self.t0 + self.limit:
                    p.kill()
                    return self.end("timeout", f"killed at the hard limit of {self.limit:g} s")
                if now > self.t_go + allowed:
                    over = self._over(now - self.t_go, allowed, meter)
                    if over is not None:
                        p.kill()
                        return self.end("invalid", over)
                time.sleep(0.02)
        except KeyboardInterrupt:
            p.kill()
            raise
        meter.sample()
        busy = meter.others_share()
        p.finish()
        self.t_end = time.monotonic()
        self.training_seconds = self.t_end - self.t_go
        self.figures.update(machine_busy=round(busy, 3), run_cpu_seconds=round(meter.run_cpu_seconds(), 2))
        if p.peak_memory_mb is not None:
            self.figures["box_peak_memory_mb"] = round(p.peak_memory_mb, 1)
        child.feed.close()
        self.images_served = child.feed.served
        if child.feed.problem is not None:
            return self.end("invalid", f"broke the protocol of the training data feed: {child.feed.problem}")
        if p.proc.returncode != 0:
            return self.end("crash", self._error(p), rc=p.proc.returncode)
        if p.sink.trained_at is None:
            return self.end("crash", "the child ended without training (no trained line)", rc=0)
        if self.training_seconds > allowed:
            over = self._over(self.training_seconds, allowed, meter)
            if over is not None:
                return self.end("invalid", over)
            self.figures["late_seconds"] = round(self.training_seconds - allowed, 2)  # the machine's, recorded
        return None

    def _over(self, took: float, allowed: float, meter: MachineMeter) -> str | None:
        """Why a late run is over its budget, or None when the machine explains it (harness.lateness)."""
        return over_budget(took, allowed, meter, on_gpu=self.on_gpu, run=self.cfg.run, budget=self.budget)

    def _score(self, child: HarnessChild, root: Path, before: dict[str, str], labels: Any, isolation: Isolation,
               log: IO[bytes], echo: bool, on_line: Callable[[str], None] | None) -> RunResult:
        from gg_research.harness.integrity import frozen_fingerprint
        from gg_research.harness.scorer import check_data_unchanged, data_state, score_predictions

        try:
            check_data_unchanged(before, data_state(root), root)
        except NotComparable as exc:
            return self.end("invalid", str(exc))
        t_score = time.monotonic()
        try:
            scores = score_predictions(self.run_dir, labels, self.cfg.run.eval_batch_size)
        except TrainContractError as exc:  # missing or malformed predictions: the run failed
            log.write((wire.format_error(str(exc)) + "\n").encode())
            return self.end("crash", str(exc), rc=0)
        except Exception as exc:  # noqa: BLE001 - whatever the run's file does to the scorer is the run's fault
            reason = f"scoring failed on what the run wrote: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            log.write((wire.format_error(reason) + "\n").encode())
            return self.end("invalid", reason, rc=0)
        self._score_test(root, before, log)
        report = untrusted_report(self.run_dir / TRAIN_REPORT_FILE)
        now = time.monotonic()
        # The images trained on: the parent's count of what it served bounds what the run says.
        images = min(int(report.get("num_images", 0) or 0), self.images_served)
        trained_at = child.child.sink.trained_at or self.t_end
        summary: dict[str, Any] = {
            **{name: round(value, 6) for name, value in scores.items()},
            "training_seconds": round(self.training_seconds, 3),
            "total_seconds": round(now - self.t0, 3),
            "eval_seconds": round(self.t_end - trained_at + now - t_score, 3),
            "num_steps": int(report.get("num_steps", 0)),
            "num_images": int(images),
            "images_served": self.images_served,
            "img_per_sec": round(images / self.training_seconds, 3) if self.training_seconds > 0 else 0.0,
            **self.figures,
            "peak_memory_mb": report.get("peak_memory_mb", 0.0),
            "num_params_M": report.get("num_params_M", 0.0),
            "boxed": 1 if isolation.bwrap else 0,
            "device": str(report.get("device", "")),
            "seed": self.seed,
        }
        record = {
            **summary, "budget": self.cfg.run.budget, "budget_s": self.budget, "budget_images": self.images,
            "startup": "prestarted" if self.used_warm else "cold", "dataset": str(root),
            "isolation": isolation.label,
            "frozen": frozen_fingerprint(self.ws, self.cfg, root),
            "train_sha256": str(report.get("train_sha256", "")), "versions": report.get("versions", {}),
            "config": self.cfg.model_dump(mode="json"),
        }
        write_json_atomic(self.summary_path, record)
        _say(format_summary(summary), log, echo, on_line)
        return self.end("ok", summary=record, rc=0)

    def _score_test(self, root: Path, state: dict[str, str], log: IO[bytes]) -> None:
        """The sealed test split's scores, to TEST_SCORES_FILE: for the report alone, never in the
        summary, the metrics or the ledger that decisions and proposals read."""
        from gg_research.harness.scorer import score_predictions, test_labels

        labels = test_labels(self.ws, root, self.cfg, state.get("test"))
        if labels is None:
            return
        try:
            scores = score_predictions(self.run_dir, labels, self.cfg.run.eval_batch_size, TEST_PREDICTIONS_FILE,
                                       evidence=False)
        except Exception as exc:  # noqa: BLE001 - the run is still judged on validation; the report says why
            log.write((f"[gg-research] test split not scored: {' '.join(str(exc).split())[:300]}\n").encode())
            return
        write_json_atomic(self.folder.test_scores, {**{k: round(v, 6) for k, v in scores.items()},
                                                            "images": len(labels)})

    def _error(self, p: ChildProcess) -> str:
        try:
            with open(self.log_path, "rb") as fh:  # the tail is enough: the reason is printed last
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - 65536))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        # The child's own one-line reason, else its last words, else how it ended.
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("[gg-research]")]
        error = wire.last_error(text) or (lines[-1] if lines else "") or exit_reason(
            p.proc.returncode, Isolation.of(self.cfg).bwrap)
        if p.oom_killed:
            error = f"out of memory: killed at the run's limit of {memory_gb(self.cfg):g} GB ([run] memory_gb)"
        elif "MemoryError" in error:
            error += f" (out of memory: the run's limit is {memory_gb(self.cfg):g} GB, [run] memory_gb)"
        return error[:500]


def _child_caps(config: Config, n_val: int, root: Path, state: dict[str, str]) -> dict[str, int]:
    """The files a harness child may leave, each with the most bytes it may take."""
    from gg_research.ggnet.manifest import read_manifest
    from gg_research.harness.scorer import predictions_cap

    size = config.data.image_size
    n_test = sum(1 for s in read_manifest(root) if s.split == "test") if "test" in state else 0
    return {PREDICTIONS_FILE: predictions_cap(n_val, size), TEST_PREDICTIONS_FILE: predictions_cap(n_test, size),
            TRAIN_REPORT_FILE: REPORT_CAP, WEIGHTS_FILE: int(config.run.max_output_mb * 2**20)}


def _say(text: str, log: IO[bytes], echo: bool, on_line: Callable[[str], None] | None) -> None:
    """A line of the parent's own into run.log, and to the terminal as the child's lines go."""
    log.write((text + "\n").encode())
    log.flush()
    for line in text.splitlines():
        if on_line is not None:
            on_line(line + "\n")
        elif echo:
            print(line, flush=True)
