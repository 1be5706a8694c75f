"""Reading experiments.jsonl: merging start/end lines, and every kind of bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from results.errors import LedgerMissingError, LedgerReadError
from results.ledger import ledger_path, read_ledger, read_workspace_ledger
from tests.results.night import write_workspace


def test_start_and_end_lines_merge_by_id(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    ledger = read_workspace_ledger(ws)
    assert [e.id for e in ledger.experiments] == [f"e{i:04d}" for i in range(1, 10)]
    assert ledger.warnings == []
    e2 = ledger.experiments[1]
    # The hypothesis came from the start line, the status and metrics from the end line.
    assert e2.status == "keep" and e2.metrics == {"pbqc": 0.66, "dice": 0.55}
    assert e2.hypothesis["citations"][0]["section"] == "3.3.4 Training schedule"
    assert e2.ended and e2.started_at is not None and e2.ended_at > e2.started_at
    flying = ledger.experiments[-1]
    assert flying.status == "running" and not flying.ended and flying.metrics == {}
    assert ledger.tags() == ["nov22"]


def test_metrics_fall_back_to_the_mean_of_ok_seeds(tmp_path: Path):
    path = tmp_path / "experiments.jsonl"
    rec = {"id": "e0001", "status": "baseline", "seeds": [
        {"seed": 0, "status": "ok", "metrics": {"pbqc": 0.5, "dice": 0.4}},
        {"seed": 1, "status": "ok", "metrics": {"pbqc": 0.7, "dice": 0.6}},
        {"seed": 2, "status": "crash"},
    ]}
    path.write_text(json.dumps(rec) + "\n")
    exp = read_ledger(path).experiments[0]
    assert exp.metrics == pytest.approx({"pbqc": 0.6, "dice": 0.5})


def test_malformed_lines_are_reported_with_their_numbers_and_the_rest_is_read(tmp_path: Path):
    good = [{"id": "e0001", "event": "start", "status": "running"},
            {"id": "e0001", "event": "end", "status": "baseline", "metrics": {"pbqc": 0.6, "dice": 0.5}},
            {"id": "e0002", "event": "end", "status": "keep", "metrics": {"pbqc": 0.7, "dice": "high"}}]
    lines = [json.dumps(good[0]), "{not json", json.dumps(good[1]), "", "[1, 2]", json.dumps({"status": "keep"}),
             json.dumps(good[2]), json.dumps({"id": "e0003", "status": "exploded"}), '{"id": "e0004", "stat']
    path = tmp_path / "experiments.jsonl"
    path.write_bytes(("\n".join(lines)).encode() + b"\n\xff\xfe garbage\n")
    ledger = read_ledger(path)
    assert [e.id for e in ledger.experiments] == ["e0001", "e0002", "e0003"]
    assert ledger.experiments[0].metrics == {"pbqc": 0.6, "dice": 0.5}
    text = "\n".join(ledger.warnings)
    assert "line 2: not valid JSON" in text
    assert "line 5: a JSON list, not an object" in text
    assert "line 6: no experiment id" in text
    assert "line 7: e0002 metric 'dice' is not a number" in text
    assert "line 8: e0003 has unknown status 'exploded'" in text
    assert "line 9: not valid JSON" in text  # a truncated last write
    assert "line 10: not UTF-8" in text
    # The good value of e0002 survives its bad neighbour.
    assert ledger.experiments[1].metrics == {"pbqc": 0.7}


def test_nan_metrics_are_missing_not_malformed(tmp_path: Path):
    path = tmp_path / "experiments.jsonl"
    path.write_text('{"id": "e0001", "status": "crash", "metrics": {"pbqc": NaN, "dice": 0.2}}\n')
    ledger = read_ledger(path)
    assert ledger.experiments[0].metrics == {"dice": 0.2}
    assert ledger.warnings == []


def test_bad_timestamp_is_a_warning(tmp_path: Path):
    path = tmp_path / "experiments.jsonl"
    path.write_text('{"id": "e0001", "status": "keep", "started_at": "yesterday", "ended_at": "2026-11-22T01:00:00"}\n')
    ledger = read_ledger(path)
    exp = ledger.experiments[0]
    assert exp.started_at is None and exp.ended_at is not None and exp.ended_at.tzinfo is not None
    assert ledger.warnings == ["experiments.jsonl line 1: e0001 started_at is not an ISO 8601 time ('yesterday')"]


def test_missing_ledger_is_a_clear_error(tmp_path: Path):
    with pytest.raises(LedgerMissingError, match=r"experiments.jsonl: no ledger yet"):
        read_workspace_ledger(tmp_path)


def test_unreadable_ledger_is_a_clear_error(tmp_path: Path):
    ledger_path(tmp_path).mkdir(parents=True)  # a folder where the file should be
    with pytest.raises(LedgerReadError, match="cannot read the ledger"):
        read_workspace_ledger(tmp_path)


def test_tag_filter(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    with ledger_path(ws).open("a") as fh:
        fh.write(json.dumps({"id": "e0100", "tag": "nov23", "status": "baseline", "metrics": {"pbqc": 0.5, "dice": 0.5}}) + "\n")
    assert [e.id for e in read_workspace_ledger(ws, "nov23").experiments] == ["e0100"]
    assert len(read_workspace_ledger(ws, "nov22").experiments) == 9
    assert read_workspace_ledger(ws).tags() == ["nov22", "nov23"]
