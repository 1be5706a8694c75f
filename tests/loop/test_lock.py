"""The loop lock, on real files and real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gg_research.loop.errors import LoopLocked
from gg_research.loop.lock import LoopLock


def test_lock_refuses_a_second_holder_and_names_the_pid(tmp_path: Path) -> None:
    with LoopLock(tmp_path):
        with pytest.raises(LoopLocked, match=f"pid {os.getpid()}"):
            LoopLock(tmp_path).acquire()
    LoopLock(tmp_path).acquire().release()  # free again after release


def test_lock_of_a_killed_process_is_free_again(tmp_path: Path) -> None:
    code = ("import sys, time; from gg_research.loop.lock import LoopLock; "
            "LoopLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(LoopLocked, match=f"pid {proc.pid}"):
            LoopLock(tmp_path).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    lock = LoopLock(tmp_path).acquire()  # the kernel dropped the dead holder's flock
    assert (tmp_path / ".gg" / "loop.lock").read_text().strip() == str(os.getpid())
    lock.release()
