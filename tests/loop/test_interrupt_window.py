"""Red team of the lifecycle under Ctrl-C / SIGTERM (issue 30, item 1): an interrupt that lands
after a keep's tag is made and before its end line is written (`Cycle.land`: tag, then
`Session.end`). The loop says the running experiment "was recorded as interrupted", but nothing
is recorded until a resume calls it "loop died"; and the keep tag stays on an experiment whose
fate is interrupted, so `git tag` shows gg/t/e0002 as a kept run."""

from __future__ import annotations

from pathlib import Path

import pytest

from gg_research.loop.session import Session
from tests.loop.fakes import edit, git, make_workspace, records, run_scripted


@pytest.mark.slow
def test_an_interrupt_between_the_keep_tag_and_the_end_line_is_recorded_and_leaves_no_keep_tag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path / "ws")
    real = Session.end

    def ctrl_c_first(self: Session, exp, fate) -> None:  # SIGTERM arrives as the keep is being recorded
        if exp.id == "e0002":
            raise KeyboardInterrupt
        real(self, exp, fate)

    monkeypatch.setattr(Session, "end", ctrl_c_first)
    _, code, out = run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")], max_experiments=1)
    assert code == 130 and "recorded as interrupted" in out
    assert records(ws)[-1].status.final, "the loop said the running experiment was recorded; it was not"
    monkeypatch.setattr(Session, "end", real)
    run_scripted(ws, [edit("QB up", "QB = 1.0", "QB = 2.0")], max_experiments=1)  # resume
    fates = {r.id: r.status for r in records(ws)}
    kept_tags = [t.rsplit("/", 1)[1] for t in git(ws, "tag", "--list", "gg/t/*").split() if "rescued" not in t]
    assert all(fates[exp_id].kept for exp_id in kept_tags), (kept_tags, fates)


@pytest.mark.slow
def test_an_interrupt_between_the_baselines_tag_and_its_end_line_leaves_no_baseline_tag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path / "ws")
    real = Session.end

    def ctrl_c_first(self: Session, exp, fate) -> None:
        if exp.id == "e0001":
            raise KeyboardInterrupt
        real(self, exp, fate)

    monkeypatch.setattr(Session, "end", ctrl_c_first)
    _, code, out = run_scripted(ws, [], max_experiments=0)
    assert code == 130 and "e0001 recorded as interrupted" in out, out
    assert [(r.status.value, r.cause) for r in records(ws)] == [("interrupted", "stopped")]
    assert git(ws, "tag", "--list", "gg/t/*").split() == []  # no tag claims a baseline the ledger does not have
    monkeypatch.setattr(Session, "end", real)
    _, code, _ = run_scripted(ws, [], max_experiments=0)  # resume: a baseline is measured again
    assert code == 0 and [r.status.value for r in records(ws)] == ["interrupted", "baseline"]
    assert git(ws, "tag", "--list", "gg/t/*").split() == ["gg/t/e0002"]


class _Killed(BaseException):
    """Stands for a kill -9: nothing of the loop's runs after it (no clean-up catches it)."""


@pytest.mark.slow
def test_a_kill_between_the_keep_tag_and_the_end_line_is_undone_on_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path / "ws")
    real = Session.end

    def killed(self: Session, exp, fate) -> None:
        if exp.id == "e0002":
            raise _Killed
        real(self, exp, fate)

    monkeypatch.setattr(Session, "end", killed)
    with pytest.raises(_Killed):
        run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")], max_experiments=1)
    assert "gg/t/e0002" in git(ws, "tag", "--list", "gg/t/*").split()  # the window: a tag, no end line
    monkeypatch.setattr(Session, "end", real)
    _, code, out = run_scripted(ws, [], max_experiments=0)  # resume
    assert code == 0, out
    assert [(r.id, r.status.value) for r in records(ws)] == [("e0001", "baseline"), ("e0002", "interrupted")]
    assert git(ws, "tag", "--list", "gg/t/*").split() == ["gg/t/e0001"]
    assert "gg/t/e0002" in out and "deleted" in out


@pytest.mark.slow
def test_resume_tags_a_keep_whose_tag_is_missing(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")], max_experiments=1)
    git(ws, "tag", "-d", "gg/t/e0002")  # as if the end line had been written first and the tag never made
    _, code, out = run_scripted(ws, [], max_experiments=0)
    assert code == 0 and sorted(git(ws, "tag", "--list", "gg/t/*").split()) == ["gg/t/e0001", "gg/t/e0002"]
    assert git(ws, "rev-list", "-n1", "gg/t/e0002").strip() == records(ws)[1].commit


@pytest.mark.slow
def test_a_kill_between_the_loops_commit_and_its_start_line_is_undone_on_resume_not_rescued(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path / "ws")
    run_scripted(ws, [], max_experiments=0)  # the baseline
    real = Session.start

    def killed(self: Session, exp) -> None:
        if exp.id == "e0002":
            raise _Killed
        real(self, exp)

    monkeypatch.setattr(Session, "start", killed)
    with pytest.raises(_Killed):
        run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")], max_experiments=1)
    orphan = git(ws, "rev-parse", "HEAD").strip()
    assert orphan != records(ws)[0].commit  # the window: the loop's commit, no start line
    monkeypatch.setattr(Session, "start", real)
    _, code, out = run_scripted(ws, [], max_experiments=0)  # resume
    assert code == 0, out
    assert git(ws, "rev-parse", "HEAD").strip() == records(ws)[0].commit
    assert "rescued" not in git(ws, "branch", "--list") and "not made by the loop" not in out, out
