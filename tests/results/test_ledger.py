"""Reading experiments.jsonl: merging start/end lines, and every kind of bad line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from gg_research.results.errors import LedgerMissingError, LedgerReadError
from gg_research.results.ledger import Experiment, LedgerFile, SeedRun, Status, ledger_path, read_ledger, read_workspace_ledger

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


def test_writer_start_end_merge_and_tsv(tmp_path: Path):
    led = LedgerFile(tmp_path)
    assert led.next_id() == "e0001"
    exp = Experiment(id="e0001", tag="t", title="a\ttab\nnewline", commit="abcdef1234")
    led.start(exp)
    assert led.read().experiments[0].status is Status.RUNNING
    exp.status, exp.reason = Status.KEEP, "better"
    exp.seeds = [SeedRun(seed=0, status="ok", metrics={"pbqc": 0.5, "dice": 0.25})]
    exp.metrics, exp.aux = {"pbqc": 0.5, "dice": 0.25}, {"peak_memory_mb": 2048.0, "img_per_sec": 12.34}
    led.end(exp)
    got = led.read().experiments[0]
    assert got.status is Status.KEEP and got.tag == "t" and got.started_at <= got.ended_at
    assert got.seeds == exp.seeds and got.metrics == exp.metrics and got.ended
    rows = [ln.split("\t") for ln in led.tsv.read_text().splitlines()]
    assert rows[0] == ["experiment", "commit", "pbqc", "dice", "memory_gb", "img_per_sec", "status", "description"]
    assert rows[1] == ["e0001", "abcdef1", "0.5000", "0.2500", "2.00", "12.3", "keep", "a tab newline (better)"]
    assert led.next_id() == "e0002"
    with pytest.raises(ValueError, match="final status"):
        led.end(Experiment(id="e0002"))


def test_tsv_columns_follow_the_configured_objectives(tmp_path: Path):
    led = LedgerFile(tmp_path, ["pbqc", "dice", "boundary_f1"])
    exp = Experiment(id="e0001", status=Status.BASELINE, metrics={"pbqc": 0.5, "dice": 0.4, "boundary_f1": 0.3})
    led.start(exp)
    led.end(exp)
    header, row = [ln.split("\t") for ln in led.tsv.read_text().splitlines()]
    assert header[2:5] == ["pbqc", "dice", "boundary_f1"] and row[2:5] == ["0.5000", "0.4000", "0.3000"]
    # A file begun under other objectives keeps its header; rows follow it.
    led2 = LedgerFile(tmp_path, ["pbqc"])
    exp2 = Experiment(id="e0002", status=Status.DISCARD, metrics={"pbqc": 0.6, "dice": 0.1, "boundary_f1": 0.2})
    led2.start(exp2)
    led2.end(exp2)
    assert led.tsv.read_text().splitlines()[2].split("\t")[2:5] == ["0.6000", "0.1000", "0.2000"]


def test_torn_last_line_is_skipped_and_tsv_repaired(tmp_path: Path):
    led = LedgerFile(tmp_path)
    led.start(Experiment(id="e0001", tag="t", title="x"))
    # an end line written to the JSONL but the loop died before the TSV row; then a torn line
    with open(led.jsonl, "a") as fh:
        fh.write(json.dumps({"event": "end", "id": "e0001", "status": "discard"}) + "\n")
        fh.write('{"event": "start", "id": "e00')
    assert [e.id for e in led.read().experiments] == ["e0001"]
    assert led.repair_tsv() == ["e0001"]
    assert led.repair_tsv() == []  # idempotent
    assert led.tsv_ids() == ["e0001"]


def test_status_owns_its_predicates():
    assert [s.value for s in Status if s.kept] == ["baseline", "keep"]
    assert [s.value for s in Status if s.measured] == ["baseline", "keep", "discard"]
    assert [s.value for s in Status if not s.final] == ["running"]
    assert Status("keep") is Status.KEEP and f"{Status.KEEP}" == "keep" and json.dumps(Status.KEEP) == '"keep"'


def test_a_torn_line_never_swallows_the_next_record(tmp_path: Path):
    led = LedgerFile(tmp_path)
    first = Experiment(id="e0001", tag="t", status=Status.BASELINE, metrics={"pbqc": 0.5, "dice": 0.4})
    led.start(first)
    led.end(first)
    with open(led.jsonl, "ab") as fh:
        fh.write(b'{"event": "start", "id": "e0002", "tag": "t", "ti')  # kill -9 or a full disk mid-write
    second = Experiment(id=led.next_id(), tag="t", title="after the tear")
    led.start(second)
    got = led.read()
    assert [e.id for e in got.experiments] == ["e0001", second.id] and got.experiments[1].title == "after the tear"
    assert len(got.warnings) == 1 and "line 3: not valid JSON" in got.warnings[0]


def test_fields_of_the_wrong_shape_are_read_as_empty_with_a_warning(tmp_path: Path):
    path = tmp_path / "experiments.jsonl"
    rec = {"id": "e0001", "status": "discard", "seeds": "many", "hypothesis": ["not", "a", "dict"],
           "passages": {"a": 1}, "metrics": {"pbqc": 0.5, "dice": 0.4}}
    path.write_text(json.dumps(rec) + "\n")
    ledger = read_ledger(path)
    exp = ledger.experiments[0]
    assert exp.seeds == [] and exp.hypothesis == {} and exp.passages == [] and exp.metrics == {"pbqc": 0.5, "dice": 0.4}
    text = "\n".join(ledger.warnings)
    assert "seeds is a JSON str, not a list" in text and "hypothesis is a JSON list, not an object" in text
    assert "passages is a JSON dict, not a list" in text


def test_a_seeds_collapse_mark_round_trips_and_an_older_line_reads_without_one(tmp_path: Path):
    led = LedgerFile(tmp_path)
    exp = Experiment(id="e0001", status=Status.BASELINE)
    exp.seeds = [SeedRun(seed=0, status="ok", metrics={"dice": 0.004}, collapse=["dice"]),
                 SeedRun(seed=1, status="ok", metrics={"dice": 0.41}, collapse=[])]
    led.start(exp)
    led.end(exp)
    assert [s.collapse for s in led.read().experiments[0].seeds] == [["dice"], []]
    end = json.loads(led.jsonl.read_text().splitlines()[-1])
    assert [s.get("collapse") for s in end["seeds"]] == [["dice"], []]
    # Written before seeds were marked (or marked with junk): not judged, rather than "not collapsed".
    with led.jsonl.open("a") as fh:
        fh.write(json.dumps({"id": "e0002", "status": "discard", "seeds": [{"seed": 0, "metrics": {"dice": 0.1}},
                                                                          {"seed": 1, "collapse": "dice"}]}) + "\n")
    old = led.read().get("e0002")
    assert [s.collapse for s in old.seeds] == [None, None]


def _same_as_a_cold_read(led: LedgerFile) -> None:
    got, cold = led.read(), read_ledger(led.jsonl)
    assert got.experiments == cold.experiments and got.warnings == cold.warnings


def test_the_loop_s_reads_parse_each_line_once_and_give_what_a_cold_read_gives(tmp_path: Path, monkeypatch):
    from gg_research.results import ledger as ledger_module

    parsed: list[int] = []
    real_merge = ledger_module._Index._merge
    monkeypatch.setattr(ledger_module._Index, "_merge",
                        lambda self, number, raw: parsed.append(number) or real_merge(self, number, raw))
    ws = write_workspace(tmp_path / "ws")
    led = LedgerFile(ws)
    lines = len(led.jsonl.read_bytes().splitlines())
    for _ in range(5):
        led.read()
    assert len(parsed) == lines  # ten reads of a night: its lines parsed once
    flying = led.read().experiments[-1]
    flying.status, flying.reason = Status.DISCARD, "worse"
    led.end(flying)
    for _ in range(5):
        led.read()
    assert len(parsed) == lines + 1  # the end line, and nothing again
    _same_as_a_cold_read(led)
    assert led.read().get(flying.id).status is Status.DISCARD


def test_a_read_s_experiments_are_its_own_to_change(tmp_path: Path):
    led = LedgerFile(write_workspace(tmp_path / "ws"))
    first = led.read().experiments[1]
    first.status = Status.CRASH
    first.metrics["pbqc"] = -1.0
    first.hypothesis["citations"].clear()
    seeds = len(first.seeds)
    first.seeds.append(SeedRun(seed=99, status="crash"))
    again = led.read().experiments[1]
    assert again.status is Status.KEEP and again.metrics["pbqc"] == 0.66
    assert again.hypothesis["citations"] and len(again.seeds) == seeds
    _same_as_a_cold_read(led)


def test_lines_written_by_another_process_or_a_rewrite_are_seen(tmp_path: Path):
    led = LedgerFile(write_workspace(tmp_path / "ws"))
    led.read()
    # Another writer (a second LedgerFile, as `step` in its own process is) appends.
    other = LedgerFile(led.jsonl.parent.parent)
    other.start(Experiment(id="e0100", tag="nov22", title="from elsewhere"))
    assert led.read().get("e0100").title == "from elsewhere"
    _same_as_a_cold_read(led)
    # A torn line, then its completion.
    with open(led.jsonl, "ab") as fh:
        fh.write(b'{"id": "e0101", "title": "ha')
    assert led.read().experiments == read_ledger(led.jsonl).experiments
    assert any("line" in w and "not valid JSON" in w for w in led.read().warnings)
    with open(led.jsonl, "ab") as fh:
        fh.write(b'lf"}\n')
    assert led.read().get("e0101").title == "half"
    _same_as_a_cold_read(led)
    # Rewritten in place at the same size (a hand edit): read whole again.
    text = led.jsonl.read_bytes()
    led.jsonl.write_bytes(text.replace(b"from elsewhere", b"from ELSEWHERE"))
    os.utime(led.jsonl, ns=(1, 1))
    assert led.read().get("e0100").title == "from ELSEWHERE"
    # Replaced by a shorter file (a new inode), then by nothing.
    replacement = led.jsonl.with_name("new.jsonl")
    replacement.write_text(json.dumps({"id": "e0001", "status": "baseline"}) + "\n")
    os.replace(replacement, led.jsonl)
    assert [e.id for e in led.read().experiments] == ["e0001"]
    _same_as_a_cold_read(led)
    led.jsonl.unlink()
    assert led.read().experiments == []
