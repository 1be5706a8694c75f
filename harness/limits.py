"""The kernel's limits of one run: memory, processes, file size, counted by the kernel, never by the run.

Memory: RLIMIT_DATA (it spares CUDA's address-space reservations) caps what the run maps
privately; a control group (cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes` where the
machine mounts that) caps everything it charges, shared memory and its tmpfs included, and
gives the parent the run's peak. Processes: the control group's `pids.max` (RLIMIT_NPROC does
not bind root and counts the user's other processes, so it is not used). Where no control group
can be made, `counted` says what is left uncounted.
"""

from __future__ import annotations

import os
import resource
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CGROUP_MOUNTS = Path("/proc/self/mountinfo")
MAX_PROCESSES = 512  # loader workers, compiler threads' helpers: far below a fork bomb


@dataclass(frozen=True)
class _Hierarchy:
    root: Path  # where the hierarchy is mounted
    own: str  # this process's cgroup in it, relative to the mount
    controllers: frozenset[str]  # v1: the controllers of this mount; v2: those enabled below `own`
    v2: bool


def _hierarchies() -> list[_Hierarchy]:
    """The cgroup hierarchies this process may make child groups in."""
    try:
        mounts = CGROUP_MOUNTS.read_text().splitlines()
        own = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            own[ctrls] = path
    except (OSError, ValueError):
        return []
    found: list[_Hierarchy] = []
    for line in mounts:
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3 or "rw" not in fields[5].split(","):
            continue
        fstype, mountpoint, options = rfields[0], Path(fields[4]), set(rfields[2].split(","))
        if fstype == "cgroup2" and "" in own:
            try:
                enabled = frozenset((mountpoint / own[""].lstrip("/") / "cgroup.subtree_control").read_text().split())
            except OSError:
                continue
            found.append(_Hierarchy(mountpoint, own[""], enabled, True))
        elif fstype == "cgroup":
            wanted = frozenset(options & {"memory", "pids", "cpuacct"})
            key = next((k for k in own if wanted and set(k.split(",")) >= wanted), None)
            if wanted and key is not None:
                found.append(_Hierarchy(mountpoint, own[key], wanted, False))
    return found


class RunLimits:
    """The limits of one run; `preexec` applies them in the child, `close` removes its groups."""

    def __init__(self, memory_gb: float, max_file_bytes: int) -> None:
        self.memory = int(memory_gb * 2**30) if memory_gb > 0 else 0
        self.max_file = max_file_bytes
        self.groups: dict[str, Path] = {}  # controller -> the run's group folder
        tag = secrets.token_hex(4)
        for h in _hierarchies():
            for ctrl in sorted((h.controllers | ({"cpuacct"} if h.v2 else set())) & {"memory", "pids", "cpuacct"}):
                if ctrl in self.groups:
                    continue
                group = h.root / h.own.lstrip("/") / f"gg-run-{os.getpid()}-{tag}"
                if _make_group(group, ctrl, h.v2, self.memory):
                    self.groups[ctrl] = group

    @property
    def counted(self) -> str:
        """What the memory and process limits count here, in words (for the run's log)."""
        if "memory" in self.groups and "pids" in self.groups:
            return "memory (shared memory and tmpfs included) and processes counted by a control group"
        parts = []
        if "memory" not in self.groups:
            parts.append("the memory limit is RLIMIT_DATA alone (shared memory and tmpfs not counted)")
        if "pids" not in self.groups:
            parts.append("the number of processes is not limited")
        return "no control group here: " + "; ".join(parts)

    def preexec(self) -> Callable[[], None]:
        groups = [g / "cgroup.procs" for g in dict.fromkeys(self.groups.values())]
        memory, max_file = self.memory, self.max_file

        def apply() -> None:
            for procs in groups:  # before exec, so everything the run starts is in the group
                with open(procs, "w") as fh:
                    fh.write(str(os.getpid()))
            if memory:
                resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
            if max_file:
                resource.setrlimit(resource.RLIMIT_FSIZE, (max_file, max_file))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dumps of a crashed run

        return apply

    def peak_memory_mb(self) -> float | None:
        """The run's peak charged memory, as the kernel counted it (None without a memory group)."""
        group = self.groups.get("memory")
        for name in ("memory.peak", "memory.max_usage_in_bytes"):
            try:
                return int((group / name).read_text().split()[0]) / 2**20 if group else None
            except (OSError, ValueError, IndexError):
                continue
        return None

    def cpu_seconds(self) -> float | None:
        """CPU time of every process the run ever had, as its control group counted it (processes
        reaped by the kernel, which leave no trace in their parent's figures, included); None
        without such a group."""
        group = self.groups.get("cpuacct")
        if group is None:
            return None
        try:
            if (group / "cpuacct.usage").exists():
                return int((group / "cpuacct.usage").read_text().split()[0]) / 1e9
            for line in (group / "cpu.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
        except (OSError, ValueError, IndexError):
            return None
        return None

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the run for its memory limit."""
        group = self.groups.get("memory")
        if group is None:
            return False
        for name in ("memory.events", "memory.oom_control"):
            try:
                for line in (group / name).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
            except (OSError, ValueError):
                continue
        return False

    def close(self) -> None:
        """Kill what is left in the groups, then remove them."""
        for group in dict.fromkeys(self.groups.values()):
            for _ in range(50):
                try:
                    pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
                except (OSError, ValueError):
                    pids = []
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
        self.groups = {}


def _make_group(group: Path, ctrl: str, v2: bool, memory: int) -> bool:
    made = not group.exists()  # a v2 group serves several controllers: only the one that made it removes it
    try:
        group.mkdir(exist_ok=True)
        if ctrl == "memory" and memory:
            (group / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(str(memory))
            if v2:
                (group / "memory.swap.max").write_text("0") if (group / "memory.swap.max").exists() else None
        if ctrl == "pids":
            (group / "pids.max").write_text(str(MAX_PROCESSES))
        return True
    except OSError:
        try:
            if made:
                group.rmdir()
        except OSError:
            pass
        return False
