"""The cycle's checks (loop.cycle): a refused proposal has a typed cause, and every driver composes the same cycle."""

from __future__ import annotations

from pathlib import Path

from gg_research.loop.apply import Applied
from gg_research.loop.cycle import REPEATED_DIFF, Refusal, check_proposal
from gg_research.loop.hypothesis import Hypothesis, ProposalMeta
from gg_research.results.lifecycle import Cause, Status
from tests.loop.fakes import edit, make_workspace, records, run_scripted


def _hyp(search: str, replace: str, path: str = "train.py") -> Hypothesis:
    return Hypothesis(title="t", edits=[{"path": path, "search": search, "replace": replace}])


def test_each_refusal_has_its_cause_and_nothing_is_written(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    before = (ws / "train.py").read_text()
    ok = check_proposal(_hyp("QA = 1.0", "QA = 2.0"), ws, ["train.py"], seen=set())
    assert isinstance(ok, Applied) and "QA = 2.0" in ok.files["train.py"]
    again = check_proposal(_hyp("QA = 1.0", "QA = 2.0"), ws, ["train.py"], seen={ok.content_hash})
    assert again == Refusal(Cause.REPEATED_DIFF, REPEATED_DIFF)
    frozen = check_proposal(_hyp("import json", "import os", path="fake_run.py"), ws, ["train.py"], seen=set())
    broken = check_proposal(_hyp("QA = 1.0", "QA = (("), ws, ["train.py"], seen=set())
    assert isinstance(frozen, Refusal) and frozen.cause is Cause.BAD_EDIT and "frozen" in frozen.reason
    assert isinstance(broken, Refusal) and broken.cause is Cause.BAD_EDIT and "does not compile" in broken.reason
    fate = broken.fate
    assert fate.status is Status.REFUSED and fate.detail == f"refused: {broken.reason}"
    assert (ws / "train.py").read_text() == before


def test_the_proposal_metadata_is_typed_and_the_ledger_keeps_its_old_keys(tmp_path: Path) -> None:
    meta = ProposalMeta(proposer="optuna", trial=3, evidence=["a:1"], client={"via": "mcp"})
    assert meta.proposer_info() == {"via": "mcp", "trial": 3, "evidence": ["a:1"]}
    ws = make_workspace(tmp_path / "ws")
    run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")])
    exp = records(ws)[-1]
    assert exp.proposer == "scripted" and exp.proposer_info == {"script_line": 1}
