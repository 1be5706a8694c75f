"""Runs of a parallel loop as Ray tasks: a Ray started inside the loop, or a cluster by address.

A worker is a Ray actor, one per slot of the loop, that holds its resources for the night
(`num_gpus`, fractional to pack two runs on one GPU, and `num_cpus`, which Ray also passes to
torch as OMP_NUM_THREADS) and runs experiments the same sealed way the serial loop does: the
harness's `run_experiment` with its box, clock and scorer, and, like the serial loop, the next
run's child started while the current one trains (a slot's runs share its worktree path, so the
started child fits the next run).

Every node must see the workspace, its worktrees and the dataset at the same paths (a shared
filesystem such as NFS) and have gg-research installed: the task checks the first and ends as a
crash naming the node when it does not. A task is never retried: a worker that dies mid-run
makes that experiment a crash, Ray starts the actor again, and the night goes on.

Ray is an optional extra (`pip install 'gg-research[parallel]'`), imported only here.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.harness.runner import RunResult
from gg_research.loop.errors import LoopSetupError
from gg_research.workspace_map import RunFolder



def visible(workspace: Path, run_dir: Path) -> RunResult | None:
    """A crashed run naming the node when this node cannot see the workspace (no shared filesystem)."""
    if Path(workspace).is_dir():
        return None
    why = (f"{workspace}: not visible on Ray node {socket.gethostname()}; every node must mount the workspace and "
           f"its worktrees at the same path (a shared filesystem)")
    return RunResult("crash", {}, {}, Path(run_dir), RunFolder(Path(run_dir)).log, why, 0.0)


class Worker:
    """The body of a Ray actor: a slot's runs, one at a time, each next child started ahead."""

    def __init__(self) -> None:
        from gg_research.harness.runner import PrestartingRunner

        self._runner = PrestartingRunner()

    def run(self, workspace: str, run_dir: str, config: Config, seed: int, hard_limit_s: float) -> RunResult:
        ws, out = Path(workspace), Path(run_dir)
        unseen = visible(ws, out)
        if unseen is not None:
            return unseen
        out.mkdir(parents=True, exist_ok=True)
        RunFolder(out).worker.write_text(json.dumps({"node": socket.gethostname(), "pid": os.getpid()}), encoding="utf-8")
        return self._runner(ws, out, config=config, seed=seed, hard_limit_s=hard_limit_s)

    def close(self) -> None:
        self._runner.close()


def _unreachable(address: str) -> str | None:
    """Why nothing answers at a host:port address, found in seconds (Ray itself retries for minutes)."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return None  # "auto" and the like: Ray finds the cluster itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__
    return None


class RayPool:
    """The loop's run function (loop.runner.RunFn) for N runs in flight; `start()` before the first run."""

    def __init__(self, config: Config, workers: int, say: Callable[[str], None] = print) -> None:
        self.cfg = config
        self.workers = workers
        self.say = say
        self.gpus_per_run = 0.0
        self.cpus_per_run = 1.0
        self._ray: Any = None
        self._actors: list[Any] = []
        self._started_here = False
        self._home: dict[str, int] = {}  # a checkout's path -> the worker that last ran in it
        self._busy: set[int] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        try:
            import ray
        except ImportError:
            raise LoopSetupError(f"--workers {self.workers} runs experiments on Ray, which is not installed: "
                                 f"pip install 'gg-research[parallel]' (or use --workers 1)") from None
        logging.getLogger("ray").setLevel(logging.ERROR)  # its start-up banner and token notice
        address = self.cfg.parallel.address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            try:
                if address is None:
                    # Started here, owned by this loop: it ends with the loop (and with a killed loop).
                    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                             object_store_memory=100 * 2**20, configure_logging=False)
                    self._started_here = True
                else:
                    unreachable = _unreachable(address)
                    if unreachable:
                        raise LoopSetupError(f"the Ray cluster at {address} cannot be reached: {unreachable} "
                                             f"([parallel] address or RAY_ADDRESS)")
                    ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR, configure_logging=False)
            except LoopSetupError:
                raise
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
                what = f"connect to the Ray cluster at {address}" if address else "start a local Ray"
                hint = ""
                if "auth" in f"{exc} {exc.__cause__}".lower():
                    hint = " (the cluster wants its auth token: set RAY_AUTH_MODE=token and the token as Ray's token-auth docs say)"
                raise LoopSetupError(f"could not {what}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}{hint}") from None
        self._ray = ray
        total = ray.cluster_resources()
        gpus, cpus = float(total.get("GPU", 0.0)), float(total.get("CPU", 1.0))
        p = self.cfg.parallel
        self.gpus_per_run = p.gpus_per_run if p.gpus_per_run is not None else (min(1.0, gpus / self.workers) if gpus else 0.0)
        self.cpus_per_run = p.cpus_per_run if p.cpus_per_run is not None else max(cpus / self.workers, 0.01)
        fit = min(cpus / self.cpus_per_run, gpus / self.gpus_per_run if self.gpus_per_run else float("inf"))
        self.say(f"Ray: {cpus:g} CPU, {gpus:g} GPU; {self.workers} workers, each run {self.cpus_per_run:g} CPU, "
                 f"{self.gpus_per_run:g} GPU" + (f" (only {int(fit + 1e-9)} fit at once: the rest wait)"
                                               if fit + 1e-9 < self.workers else ""))
        # A killed worker is started again (max_restarts) but the run it had is not (max_task_retries):
        # that run is a crash, and the slot goes on with the next one.
        actor = ray.remote(Worker).options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run,
                                           max_restarts=-1, max_task_retries=0)
        self._actors = [actor.remote() for _ in range(self.workers)]

    def __call__(self, workspace: Path, run_dir: Path, *, config: Config, seed: int,
                 hard_limit_s: float) -> RunResult:
        """Run on a free worker, the one that last ran in `workspace` when it is free, and wait.

        A worker that dies mid-run, or a run cancelled by Ctrl-C, is a crashed run.
        """
        if not self._actors:
            raise RuntimeError("RayPool.start() was not called")
        ray = self._ray
        t0 = time.monotonic()
        slot = self._take(str(workspace))
        try:
            ref = self._actors[slot].run.remote(str(workspace), str(run_dir), config, seed, hard_limit_s)
            result: RunResult = ray.get(ref)
            return result
        except ray.exceptions.RayError as exc:
            first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            why = f"the Ray worker running it ended: {type(exc).__name__}: {first.strip()[:200]}"
            return RunResult("crash", {}, {}, Path(run_dir), RunFolder(Path(run_dir)).log, why, time.monotonic() - t0)
        finally:
            with self._lock:
                self._busy.discard(slot)

    def _take(self, workspace: str) -> int:
        with self._lock:
            home = self._home.get(workspace)
            free = [i for i in range(len(self._actors)) if i not in self._busy]
            if not free:
                raise RuntimeError(f"more runs at once than the {len(self._actors)} workers")
            slot = home if home in free else free[0]
            self._busy.add(slot)
            self._home[workspace] = slot
            return slot

    def cancel_all(self) -> None:
        """Stop every run in flight: their workers are killed (the harness's box dies with them)."""
        with self._lock:
            busy = sorted(self._busy)
        for slot in busy:
            try:
                self._ray.kill(self._actors[slot], no_restart=False)
            except Exception:  # finished meanwhile, or the cluster is gone: nothing left to stop
                pass

    def close(self) -> None:
        if self._ray is None:
            return
        self.cancel_all()
        for actor in self._actors:
            try:
                self._ray.kill(actor, no_restart=True)  # a cluster's actors would outlive the loop
            except Exception:
                pass
        if self._started_here:
            self._ray.shutdown()
        self._ray, self._actors = None, []
