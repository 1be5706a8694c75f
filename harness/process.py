"""A run's child process as its parent sees it: started in the sandbox, its output copied to
run.log (up to a cap) with the arrival time of the lines that matter, and ended whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from gg_research.harness import wire
from gg_research.harness.curves import CurveRecorder
from gg_research.harness.limits import RunLimits

TERM_GRACE_S = 3.0
MAX_LINE = 64 * 1024  # a longer line is cut into pieces: output without newlines is never buffered whole
READ_CHUNK = 64 * 1024


class Sink:
    """Where a child's output goes: held in memory until its run (and so its run.log) is known.

    It stamps, with the parent's clock, when the child said it was ready and when it first
    said it had trained: the only facts about the child the parent takes from its output.
    """

    def __init__(self, max_log_bytes: int) -> None:
        self._lock = threading.Lock()
        self._held = bytearray()
        self._log: IO[bytes] | None = None
        self._echo = False
        self._on_line: Callable[[str], None] | None = None
        self._max = max_log_bytes
        self._written = 0
        self.truncated = False
        self.ready = threading.Event()
        self.trained_at: float | None = None
        self.curves = CurveRecorder()  # the run's training curves, kept apart from run.log

    def attach(self, log: IO[bytes], echo: bool, on_line: Callable[[str], None] | None) -> None:
        with self._lock:
            self._log, self._echo, self._on_line = log, echo, on_line
            held, self._held = bytes(self._held), bytearray()
        for line in held.splitlines(keepends=True):
            self._emit(line)

    def detach(self) -> None:
        with self._lock:
            self._log = None

    def write(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        if wire.parse_ready(text):
            self.ready.set()
        elif self.trained_at is None and wire.parse_trained(text):
            self.trained_at = time.monotonic()
        elif self.curves.feed(text):
            return
        with self._lock:
            if self._log is None:
                if len(self._held) < self._max:
                    self._held += line
                return
        self._emit(line)

    def _emit(self, line: bytes) -> None:
        with self._lock:
            if self._log is None:
                return
            if self._written + len(line) > self._max:
                if not self.truncated:  # keep draining the pipe, so the child never blocks on it
                    self.truncated = True
                    note = f"[gg-research] run.log truncated at {self._max // 2**20} MB ([run] max_log_mb)\n"
                    self._log.write(note.encode())
                    self._log.flush()
                return
            self._written += len(line)
            self._log.write(line)
            self._log.flush()
            text = line.decode("utf-8", "replace")
            if self._on_line is not None:
                self._on_line(text)
            elif self._echo:
                sys.stdout.write(text)
                sys.stdout.flush()


class ChildProcess:
    """A child in its own process group (and, sandboxed, its own process namespace)."""

    def __init__(self, argv: list[str], *, cwd: Path, env: dict[str, str], limits: RunLimits, max_log_bytes: int,
                 stdin: bool, pass_fds: tuple[int, ...] = ()) -> None:
        self.sink = Sink(max_log_bytes)
        self.limits = limits
        self.peak_memory_mb: float | None = None  # counted by the kernel, read when the child ends
        self.oom_killed = False
        try:
            self.proc = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=limits.preexec(),
                pass_fds=pass_fds,
            )
        except BaseException:
            limits.close()
            raise
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        """Read the child's output in bounded chunks; a line longer than MAX_LINE is passed on in pieces."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        pending = b""
        while True:
            try:
                chunk = os.read(fd, READ_CHUNK)
            except OSError:
                break
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._write(line + b"\n")
            while len(pending) > MAX_LINE:
                self._write(pending[:MAX_LINE] + b"\n")
                pending = pending[MAX_LINE:]
        if pending:
            self._write(pending + b"\n")

    def _write(self, line: bytes) -> None:
        self.sink.write(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float) -> bool:
        """True once the child has loaded everything and waits for its run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            if self.sink.ready.wait(0.05):
                return True
        return self.sink.ready.is_set()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.close()

    def kill(self) -> None:
        """SIGTERM the whole group, then SIGKILL whatever is left after a grace period."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        self.finish()

    def finish(self) -> None:
        """Whatever the child left in its group goes too (loader workers, a forgotten subprocess)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        if self.peak_memory_mb is None:
            self.peak_memory_mb, self.oom_killed = self.limits.peak_memory_mb(), self.limits.oom_killed()
        self.limits.close()  # whatever escaped the kill of its process group goes with its control group
        self.pump.join(timeout=5)

    def close(self) -> None:
        """Stop a child that was not needed (closing stdin lets it exit by itself)."""
        self.sink.detach()
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self.alive():
            self.kill()
        else:
            self.finish()


def exit_reason(returncode: int, sandboxed: bool) -> str:
    """How a child ended, in words: a signal by its name (bubblewrap reports one as 128 + N)."""
    signo = -returncode if returncode < 0 else (returncode - 128 if sandboxed and returncode > 128 else 0)
    if signo:
        try:
            name = signal.Signals(signo).name
        except ValueError:
            name = f"signal {signo}"
        hint = " (out of memory?)" if signo == signal.SIGKILL else ""
        return f"killed by signal {signo} ({name}){hint}"
    return f"exited with status {returncode}"
