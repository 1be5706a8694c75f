"""Runs of a parallel loop as Ray tasks: a Ray started inside the loop, or a cluster by address.

Each run is one task that calls the harness's `run_experiment` on the node that takes it, so a
worker runs experiments the same sealed way the serial loop does (the harness's box, clock and
scorer); Ray only places the run and reserves its resources (`num_gpus`, fractional to pack two
runs on one GPU, and `num_cpus`, which Ray also passes to torch as OMP_NUM_THREADS).

Every node must see the workspace, its worktrees and the dataset at the same paths (a shared
filesystem such as NFS) and have gg-research installed: the task checks the first and ends as a
crash naming the node when it does not. A task is never retried: a worker that dies mid-run
makes that experiment a crash, and the night goes on.

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

WORKER_FILE = "worker.json"  # in the run folder: the node and process that run it


def run_on_worker(workspace: str, run_dir: str, config: Config, budget_s: float, seed: int,
                  hard_limit_s: float) -> RunResult:
    """The body of a Ray task: one harness run, on whichever node Ray chose."""
    from gg_research.harness.runner import run_experiment

    ws, out = Path(workspace), Path(run_dir)
    node = socket.gethostname()
    if not ws.is_dir():
        why = (f"{ws}: not visible on Ray node {node}; every node must mount the workspace and its worktrees "
               f"at the same path (a shared filesystem)")
        return RunResult("crash", {}, {}, out, out / "run.log", why, 0.0)
    out.mkdir(parents=True, exist_ok=True)
    (out / WORKER_FILE).write_text(json.dumps({"node": node, "pid": os.getpid()}), encoding="utf-8")
    return run_experiment(ws, out, config=config, budget_s=budget_s, seed=seed, hard_limit_s=hard_limit_s)


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
        self._task: Any = None
        self._started_here = False
        self._running: dict[int, Any] = {}  # thread id -> the object ref it waits on
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
        self._task = ray.remote(run_on_worker).options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run,
                                                       max_retries=0, name="gg-research run")

    def __call__(self, workspace: Path, run_dir: Path, *, config: Config, budget_s: float, seed: int,
                 hard_limit_s: float) -> RunResult:
        """Run on a Ray worker and wait; a worker that dies or a cancelled task is a crashed run."""
        if self._task is None:
            raise RuntimeError("RayPool.start() was not called")
        ray = self._ray
        t0 = time.monotonic()
        ref = self._task.remote(str(workspace), str(run_dir), config, budget_s, seed, hard_limit_s)
        me = threading.get_ident()
        with self._lock:
            self._running[me] = ref
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as exc:
            first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            why = f"the Ray worker running it ended: {type(exc).__name__}: {first.strip()[:200]}"
            return RunResult("crash", {}, {}, Path(run_dir), Path(run_dir) / "run.log", why, time.monotonic() - t0)
        finally:
            with self._lock:
                self._running.pop(me, None)

    def cancel_all(self) -> None:
        """Stop every run in flight (their workers are killed; the harness's box dies with them)."""
        with self._lock:
            refs = list(self._running.values())
        for ref in refs:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # finished meanwhile, or the cluster is gone: nothing left to stop
                pass

    def close(self) -> None:
        if self._ray is None:
            return
        self.cancel_all()
        if self._started_here:
            self._ray.shutdown()
        self._ray = self._task = None
