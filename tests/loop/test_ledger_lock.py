"""The ledger writer and the lock, on real files and real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loop.errors import LoopLocked
from loop.ledger import Ledger
from loop.lock import LoopLock
from results.schema import TSV_COLUMNS


def test_start_end_merge_and_tsv(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    assert led.next_id() == "e0001"
    led.start({"id": "e0001", "tag": "t", "title": "a\ttab\nnewline"})
    assert led.read()[0]["status"] == "running"
    led.end("e0001", {"status": "keep", "metrics": {"pbqc": 0.5, "dice": 0.25}, "aux": {"peak_memory_mb": 2048.0,
            "img_per_sec": 12.34}, "reason": "better"}, title="a\ttab\nnewline", commit="abcdef1234")
    rec = led.read()[0]
    assert rec["status"] == "keep" and rec["tag"] == "t" and rec["started_at"] <= rec["ended_at"]
    rows = [ln.split("\t") for ln in led.tsv.read_text().splitlines()]
    assert tuple(rows[0]) == TSV_COLUMNS
    assert rows[1] == ["e0001", "abcdef1", "0.5000", "0.2500", "2.00", "12.3", "keep", "a tab newline (better)"]
    assert led.next_id() == "e0002"


def test_torn_last_line_is_skipped_and_tsv_repaired(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    led.start({"id": "e0001", "tag": "t", "title": "x"})
    # an end line written to the JSONL but the loop died before the TSV row; then a torn line
    with open(led.jsonl, "a") as fh:
        fh.write(json.dumps({"event": "end", "id": "e0001", "status": "discard"}) + "\n")
        fh.write('{"event": "start", "id": "e00')
    assert [r["id"] for r in led.read()] == ["e0001"]
    assert led.repair_tsv() == ["e0001"]
    assert led.repair_tsv() == []  # idempotent
    assert led.tsv_ids() == ["e0001"]


def test_lock_refuses_a_second_holder_and_names_the_pid(tmp_path: Path) -> None:
    with LoopLock(tmp_path):
        with pytest.raises(LoopLocked, match=f"pid {os.getpid()}"):
            LoopLock(tmp_path).acquire()
    LoopLock(tmp_path).acquire().release()  # free again after release


def test_lock_of_a_killed_process_is_free_again(tmp_path: Path) -> None:
    code = ("import sys, time; sys.path.insert(0, sys.argv[2]); from loop.lock import LoopLock; "
            "LoopLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(Path(__file__).resolve().parents[2])],
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
