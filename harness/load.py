"""What the machine was doing during a run: the CPU its process tree got, the load, other GPU users.

Measured by the trusted parent from outside the box (psutil sees the boxed processes by their
host PIDs), so a train.py cannot make a slow run look like a busy machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable

import psutil


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and all its descendants so far, those already ended and
    reaped included (None if it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:  # ended between the listing and the read
            continue
        # A reaped child's time is in its parent's children_* figures: work done in short-lived
        # forks still counts once they are gone.
        total += times.user + times.system + getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0)
    return total


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def gpu_other_processes(own_pid: int) -> int | None:
    """Compute processes on the GPUs that are not this run's (None where nvidia-smi cannot say)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-compute-apps=pid", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    try:
        ours = {own_pid, *(p.pid for p in psutil.Process(own_pid).children(recursive=True))}
    except psutil.Error:
        ours = {own_pid}
    pids = {int(tok) for tok in out.split() if tok.strip().isdigit()}
    return len(pids - ours)


def gpu_clocks() -> dict[str, float]:
    """The first GPU's SM clock against its maximum (a throttled GPU runs below it); {} where unknown."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {}
    try:
        line = subprocess.run([smi, "--query-gpu=clocks.sm,clocks.max.sm", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=5, check=True).stdout.splitlines()[0]
        sm, sm_max = (float(tok) for tok in line.split(",")[:2])
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return {}
    return {"gpu_sm_clock_mhz": sm, "gpu_sm_clock_max_mhz": sm_max}


def machine_load(own_pid: int, on_gpu: bool) -> dict[str, float]:
    """The 1-minute load average, the usable CPUs and, on a GPU, its other compute processes and clocks."""
    out: dict[str, float] = {"load_1m": round(os.getloadavg()[0], 2), "cpus": float(usable_cpus())}
    if on_gpu:
        others = gpu_other_processes(own_pid)
        if others is not None:
            out["gpu_other_procs"] = float(others)
        out.update(gpu_clocks())
    return out


def machine_busy_seconds() -> float:
    """CPU seconds the usable CPUs have spent busy since boot (anyone's: user, system, steal)."""
    cpus = set(range(os.cpu_count() or 1))
    try:
        cpus = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    total = 0.0
    for i, t in enumerate(psutil.cpu_times(percpu=True)):
        if i in cpus:
            total += sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    return total


class MachineMeter:
    """How much of the machine *other* processes used while a run went on, measured from outside.

    The machine's busy CPU time less the run's and this parent process's own, over the usable CPUs
    and the wall time: 0 on a quiet machine, near 1 when others kept every CPU busy. The run's
    CPU time comes from its control group where there is one (`cpu_of`), which counts processes
    the kernel reaped unseen; else from its process tree. The run cannot raise the figure (what it
    starts is its own; what it makes the parent do is the parent's) nor lower it.
    """

    def __init__(self, pid: int, cpu_of: Callable[[], float | None] = lambda: None) -> None:
        self.pid, self.cpu_of = pid, cpu_of
        self.t0 = time.monotonic()
        self.busy0 = machine_busy_seconds()
        self.own0 = _own_cpu()
        self.tree0 = tree_cpu_seconds(pid) or 0.0
        self.tree = self.tree0
        group = cpu_of()
        self.group0 = group if group is not None else None
        self.group = self.group0
        self.cpus = usable_cpus()

    def sample(self) -> None:
        """Note the run's CPU so far (its tree and its control group are gone once it ends)."""
        now = tree_cpu_seconds(self.pid)
        if now is not None:
            self.tree = max(self.tree, now)
        group = self.cpu_of()
        if group is not None and self.group is not None:
            self.group = max(self.group, group)

    def run_cpu_seconds(self) -> float:
        if self.group is not None and self.group0 is not None:
            return max(self.group - self.group0, self.tree - self.tree0)
        return self.tree - self.tree0

    def others_share(self) -> float:
        wall = time.monotonic() - self.t0
        if wall <= 0.5:  # too short to tell
            return 0.0
        others = machine_busy_seconds() - self.busy0 - self.run_cpu_seconds() - (_own_cpu() - self.own0)
        return min(max(others / (wall * self.cpus), 0.0), 1.0)


def _own_cpu() -> float:
    """This process's CPU time (all its threads) and that of the children it has reaped (the `du`
    and `git` it runs): work the run may cause, never other processes' load."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
