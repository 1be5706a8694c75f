"""The report against what the loop really writes.

`data/real_loop/` is the ledger and diffs of a real `gg-research loop --tag nov22` run (the
GG-Net template on CPU, 20 s budget, scripted hypotheses citing an ingested notes file), and
the second test writes a ledger with the loop's own writer, `loop.ledger.Ledger`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from results.ledger import read_workspace_ledger
from results.report import build_analysis, write_report
from tests.results.night import load

REAL = Path(__file__).parent / "data" / "real_loop"


def test_real_loop_ledger(tmp_path: Path):
    ws = tmp_path / "ws"
    shutil.copytree(REAL, ws)
    an = build_analysis(ws, load(ws), "nov22")
    assert len(an.experiments) == 6 and an.ledger.warnings == []
    assert an.front == ["e0001"]  # nothing beat the baseline by more than the noise margin
    assert an.counts()["discard"] == 5
    # Three runs collapsed Dice to 0 (the loop flagged them); they are not near misses.
    assert an.near_misses == ["e0002", "e0003"]
    assert an.epsilon == {"pbqc": 0.005, "dice": 0.005}  # as the loop recorded on the baseline
    assert an.hypervolume == 0.0 and an.gain == 0.0
    md = write_report(ws, load(ws), "nov22", formats=("md",)).read_text()
    # The citation the loop resolved from the knowledge base, with its section.
    assert "notes.md, p. 1, §3.3.4 Training schedule [5eb4147ae77e:6]" in md
    assert "-WARMUP = 0.03" in md and "+WARMUP = 0.05" in md
    assert "dice 0 collapsed below 0.8 x baseline 0.01153" in md


def test_ledger_written_by_the_loop_writer(tmp_path: Path):
    loop_ledger = pytest.importorskip("loop.ledger")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "gg-research.toml").write_text("")
    writer = loop_ledger.Ledger(ws)
    writer.start({"id": "e0001", "tag": "t", "title": "baseline", "hypothesis": {"title": "baseline"}})
    writer.end("e0001", {"status": "baseline", "decision": "baseline", "reason": "2 seeds",
                         "metrics": {"pbqc": 0.60, "dice": 0.50}}, title="baseline", commit="aaa")
    writer.start({"id": "e0002", "tag": "t", "title": "joint", "hypothesis": {
        "title": "joint", "citations": [{"chunk_id": "d:1", "source": "thesis.pdf", "page": 3, "section": "2.1 X", "text": "t"}]}})
    writer.end("e0002", {"status": "keep", "decision": "keep", "reason": "better",
                         "metrics": {"pbqc": 0.65, "dice": 0.55}, "commit": "bbb"}, title="joint", commit="bbb")
    writer.start({"id": "e0003", "tag": "t", "title": "in flight"})
    with writer.jsonl.open("a") as fh:
        fh.write('{"event": "end", "id": "e0003", "sta')  # a kill mid-write

    ours = read_workspace_ledger(ws)
    # Both readers merge the same lines to the same records; ours also names the torn line.
    theirs = writer.read()
    assert [e.id for e in ours.experiments] == [r["id"] for r in theirs]
    assert [e.record for e in ours.experiments] == theirs
    assert ours.warnings and "line 6: not valid JSON" in ours.warnings[0]
    data = json.loads(write_report(ws, load(ws), formats=("json",)).read_text())
    assert data["front"] == ["e0002"] and data["counts"]["running"] == 1
    assert data["hypervolume"] == pytest.approx(0.05 * 0.05)
