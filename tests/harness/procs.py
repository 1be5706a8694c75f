"""Finding a run's processes from outside: by what they run or where, not by PID (a sandboxed
run has its own PID namespace, so the PIDs it sees are not the host's)."""

from __future__ import annotations

import time
from pathlib import Path


def live_processes_mentioning(text: str) -> list[int]:
    """Non-zombie processes whose command line or working directory contains `text`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            try:
                cwd = str((proc / "cwd").readlink())
            except OSError:
                cwd = ""
        except OSError:
            continue
        if text in cmdline or text in cwd:
            found.append(int(proc.name))
    return found


def all_gone(text: str, timeout: float = 10.0) -> bool:
    """True once no live process mentions `text` (waiting up to `timeout` for the kernel)."""
    deadline = time.monotonic() + timeout
    while live_processes_mentioning(text):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
