"""The report against what the loop really writes.

`data/real_loop/` is the ledger and diffs of a real `gg-research loop --tag nov22` run (the
GG-Net template on CPU, 20 s budget, scripted hypotheses citing an ingested notes file);
`data/v0_1_optuna_loop/` one written by version 0.1 with the Optuna proposer.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gg_research.results.ledger import Experiment, LedgerFile, Status, read_workspace_ledger
from gg_research.results.report import build_analysis, write_report
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
    # Measured from the collapse floors (0.8 x the baseline): the front is the baseline, so no gain.
    base = an.experiments[0].metrics
    assert an.reference_source == "collapse floors"
    assert an.reference == pytest.approx({n: 0.8 * base[n] for n in ("pbqc", "dice")})
    assert an.hypervolume == pytest.approx(an.baseline_hypervolume) and an.hypervolume > 0 and an.gain == 0.0
    md = write_report(ws, load(ws), "nov22", formats=("md",)).read_text()
    # The citation the loop resolved from the knowledge base, with its section.
    assert "notes.md, p. 1, §3.3.4 Training schedule [5eb4147ae77e:6]" in md
    assert "-WARMUP = 0.03" in md and "+WARMUP = 0.05" in md
    assert "dice 0 collapsed below 0.8 x baseline 0.01153" in md


def test_ledger_of_version_0_1_still_loads_and_reports(tmp_path: Path):
    """A real `gg-research loop` ledger written by gg-research 0.1 (before the typed record)."""
    ws = tmp_path / "ws"
    shutil.copytree(Path(__file__).parent / "data" / "v0_1_optuna_loop", ws)
    ledger = read_workspace_ledger(ws)
    assert ledger.warnings == []
    assert [(e.id, e.status) for e in ledger.experiments] == [
        ("e0001", Status.BASELINE), ("e0002", Status.KEEP), ("e0003", Status.DISCARD), ("e0004", Status.DISCARD)]
    base, kept, _, rerun = ledger.experiments
    assert len(base.seeds) == 2 and base.epsilon and base.sigma and base.frozen
    assert base.passages == [] and kept.passages == []  # the offline proposer reads no passages
    assert kept.proposer == "optuna" and kept.proposer_info["trial"] >= 1 and kept.parent == "e0001"
    assert len(rerun.seeds) == 2 and "mean of 2 seeds" in rerun.reason
    an = build_analysis(ws, load(ws), "old")
    assert an.front == ["e0001", "e0002"] and an.epsilon == base.epsilon  # a trade-off: both on the front
    md = write_report(ws, load(ws), "old", formats=("md",)).read_text()
    assert "GRAD_CLIP 1.0 -> 3.5298" in md and "+GRAD_CLIP = 3.5298" in md
    # The writer of this version appends to it: the next id, a row under the old header.
    led = LedgerFile(ws)
    assert led.next_id() == "e0005"
    exp = Experiment(id="e0005", tag="old", status=Status.DISCARD, metrics={"pbqc": 0.5, "dice": 0.01})
    led.start(exp)
    led.end(exp)
    assert [e.id for e in read_workspace_ledger(ws).experiments][-1] == "e0005"
    assert led.tsv.read_text().splitlines()[-1].startswith("e0005\t\t0.5000\t0.0100")


def test_ledger_written_by_the_writer_is_what_the_report_reads(tmp_path: Path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "gg-research.toml").write_text("")
    writer = LedgerFile(ws)
    base = Experiment(id="e0001", tag="t", title="baseline", hypothesis={"title": "baseline"}, commit="aaa")
    writer.start(base)
    base.status, base.reason, base.metrics = Status.BASELINE, "2 seeds", {"pbqc": 0.60, "dice": 0.50}
    writer.end(base)
    joint = Experiment(id="e0002", tag="t", title="joint", commit="bbb", hypothesis={
        "title": "joint", "citations": [{"chunk_id": "d:1", "source": "thesis.pdf", "page": 3, "section": "2.1 X", "text": "t"}]})
    writer.start(joint)
    joint.status, joint.reason, joint.metrics = Status.KEEP, "better", {"pbqc": 0.65, "dice": 0.55}
    writer.end(joint)
    writer.start(Experiment(id="e0003", tag="t", title="in flight"))
    with writer.jsonl.open("a") as fh:
        fh.write('{"event": "end", "id": "e0003", "sta')  # a kill mid-write

    ours = read_workspace_ledger(ws)
    assert [e.id for e in ours.experiments] == ["e0001", "e0002", "e0003"]
    assert ours.experiments[1].hypothesis["citations"][0]["section"] == "2.1 X"
    assert ours.warnings and "line 6: not valid JSON" in ours.warnings[0]
    data = json.loads(write_report(ws, load(ws), formats=("json",)).read_text())
    assert data["front"] == ["e0002"] and data["counts"]["running"] == 1
    # From the collapse floors (0.8 x the baseline: pbqc 0.48, dice 0.40).
    assert data["hypervolume"] == pytest.approx((0.65 - 0.48) * (0.55 - 0.40))
