"""Red team of the lifecycle under a failing disk (issue 30, item 1): the end line of an experiment
is written, then its results.tsv row cannot be. The session still holds the experiment as in flight
(`Session.end` clears it only after `LedgerFile.end` returns), so the clean-up settles an already
ended experiment as interrupted: `settle` raises LifecycleError, which the clean-up does not catch,
and the user gets a traceback that says "a bug in the loop" instead of the one line to fix and resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from gg_research.loop.errors import LoopAborted
from tests.loop.fakes import edit, make_workspace, records, run_scripted


@pytest.mark.slow
def test_a_tsv_row_that_cannot_be_written_after_the_end_line_stops_with_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.results.ledger import LedgerFile

    ws = make_workspace(tmp_path / "ws")
    run_scripted(ws, [], max_experiments=0)  # the baseline
    real = LedgerFile._tsv_row

    def disk_full(self: LedgerFile, exp) -> None:  # the disk fills between the end line and the TSV row
        if exp.id == "e0002":
            raise OSError(28, "No space left on device", str(self.tsv))
        real(self, exp)

    monkeypatch.setattr(LedgerFile, "_tsv_row", disk_full)
    with pytest.raises(LoopAborted) as info:
        run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")])
    assert "\n" not in str(info.value) and "results.tsv" in str(info.value)
    ends = [ln for ln in (ws / "results" / "experiments.jsonl").read_text().splitlines()
            if '"event": "end"' in ln and '"e0002"' in ln]
    assert len(ends) == 1, ends  # one fate, never two
    assert records(ws)[-1].status.final


@pytest.mark.slow
def test_an_end_line_that_cannot_be_written_ends_the_experiment_once_as_interrupted_without_its_keep_tag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.results.ledger import LedgerFile
    from tests.loop.fakes import git

    ws = make_workspace(tmp_path / "ws")
    run_scripted(ws, [], max_experiments=0)  # the baseline
    real = LedgerFile.end
    failed: list[str] = []

    def disk_full_once(self: LedgerFile, exp) -> None:  # the keep's end line fails; the disk is freed at once
        if exp.id == "e0002" and not failed:
            failed.append(exp.id)
            raise OSError(28, "No space left on device", str(self.jsonl))
        real(self, exp)

    monkeypatch.setattr(LedgerFile, "end", disk_full_once)
    with pytest.raises(LoopAborted) as info:
        run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")])
    message = str(info.value)
    assert "\n" not in message and "experiments.jsonl" in message and "e0002 recorded as interrupted" in message
    ends = [ln for ln in (ws / "results" / "experiments.jsonl").read_text().splitlines()
            if '"event": "end"' in ln and '"e0002"' in ln]
    assert len(ends) == 1, ends
    assert (records(ws)[-1].status.value, records(ws)[-1].cause) == ("interrupted", "loop-error")
    assert git(ws, "tag", "--list", "gg/t/*").split() == ["gg/t/e0001"]  # the keep's tag went with its keep
    assert git(ws, "rev-parse", "HEAD").strip() == records(ws)[0].commit


@pytest.mark.slow
def test_an_unexpected_error_mid_run_records_the_experiment_in_flight_once_and_is_raised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.loop.trial import Trial

    ws = make_workspace(tmp_path / "ws")
    run_scripted(ws, [], max_experiments=0)  # the baseline

    def broken(self: Trial, *args, **kwargs):
        raise RuntimeError("a bug in the judge")

    monkeypatch.setattr(Trial, "judge", broken)
    with pytest.raises(RuntimeError, match="a bug in the judge"):
        run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")])
    last = records(ws)[-1]
    assert (last.id, last.status.value, last.cause) == ("e0002", "interrupted", "loop-error")
    assert "RuntimeError: a bug in the judge" in last.reason
