"""One loop per workspace: an flock on `.gg/loop.lock`.

The kernel drops an flock when its process dies, so a lock left by kill -9 or a reboot
is free again without any clean-up; the pid inside is only for the message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from gg_research.loop.errors import LoopLocked
from gg_research.workspace_map import WorkspaceMap


class LoopLock:
    def __init__(self, workspace: Path) -> None:
        self.path = WorkspaceMap(Path(workspace)).lock
        self._fd: int | None = None

    def acquire(self) -> LoopLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LoopLocked(
                f"{self.path}: another loop (pid {holder}) is running on this workspace; stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LoopLock:
        return self.acquire()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
