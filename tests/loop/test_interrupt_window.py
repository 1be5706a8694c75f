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
