"""The lifecycle (results.lifecycle): one move per experiment, typed causes, and ledgers from before it still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gg_research.config import load_config
from gg_research.results.analysis import analyse
from gg_research.results.cards import headline_facts
from gg_research.results.ledger import LedgerFile, read_workspace_ledger
from gg_research.results.lifecycle import (STATUS_ORDER, Cause, Fate, LifecycleError, SeedStatus, Status, TRANSITIONS,
                                           settle)
from gg_research.results.record import Experiment, SeedRun
from tests.results.night import CONFIG

# A ledger as gg-research wrote it before refusals had a state of their own: a refused proposal
# is status "invalid" with decision "refused" and no commit; a run a busy machine slowed has the
# seed status "load-skewed" and the reason in its error.
OLD_LEDGER = [
    {"event": "start", "id": "e0001", "tag": "t", "status": "running", "commit": "a" * 40, "title": "baseline",
     "started_at": "2026-11-21T22:00:00+00:00"},
    {"event": "end", "id": "e0001", "status": "baseline", "decision": "baseline", "reason": "2 seed(s)",
     "seeds": [{"seed": 0, "status": "ok", "metrics": {"pbqc": 0.6, "dice": 0.5}},
               {"seed": 1, "status": "ok", "metrics": {"pbqc": 0.62, "dice": 0.52}}],
     "metrics": {"pbqc": 0.61, "dice": 0.51}, "ended_at": "2026-11-21T22:09:00+00:00"},
    {"event": "start", "id": "e0002", "tag": "t", "status": "running", "parent": "e0001", "title": "again",
     "started_at": "2026-11-21T22:10:00+00:00"},
    {"event": "end", "id": "e0002", "status": "invalid", "decision": "refused",
     "reason": "refused: these edits give files identical to an earlier experiment's (repeated diff)",
     "ended_at": "2026-11-21T22:10:01+00:00"},
    {"event": "start", "id": "e0003", "tag": "t", "status": "running", "parent": "e0001", "commit": "b" * 40,
     "title": "evaluate on train", "started_at": "2026-11-21T22:11:00+00:00"},
    {"event": "end", "id": "e0003", "status": "invalid", "decision": "invalid", "reason": "frozen inputs changed",
     "seeds": [{"seed": 0, "status": "invalid", "error": "changed the data"}], "ended_at": "2026-11-21T22:20:00+00:00"},
    {"event": "start", "id": "e0004", "tag": "t", "status": "running", "parent": "e0001", "commit": "c" * 40,
     "title": "busy", "started_at": "2026-11-21T22:21:00+00:00"},
    {"event": "end", "id": "e0004", "status": "keep", "decision": "keep", "reason": "beats every kept run",
     "seeds": [{"seed": 0, "status": "load-skewed", "error": "load-skewed: 20.0 img/s against the baseline's 60.0",
                "metrics": {"pbqc": 0.5, "dice": 0.4}},
               {"seed": 0, "status": "ok", "metrics": {"pbqc": 0.7, "dice": 0.6}}],
     "ended_at": "2026-11-21T22:30:00+00:00"},
]


def _old_workspace(root: Path) -> Path:
    (root / "results").mkdir(parents=True)
    (root / "gg-research.toml").write_text(CONFIG)
    (root / "results" / "experiments.jsonl").write_text("".join(json.dumps(line) + "\n" for line in OLD_LEDGER))
    return root


def test_an_old_ledger_reads_refusals_as_refused_and_load_skew_as_a_flag(tmp_path: Path) -> None:
    ws = _old_workspace(tmp_path / "ws")
    ledger = read_workspace_ledger(ws)
    assert ledger.warnings == []
    base, refused, invalid, busy = ledger.experiments
    assert [e.status for e in ledger.experiments] == [Status.BASELINE, Status.REFUSED, Status.INVALID, Status.KEEP]
    assert refused.cause is None and refused.reason.endswith("(repeated diff)")  # no cause was recorded then
    assert "decision" not in refused.extra
    assert invalid.seeds[0].status is SeedStatus.INVALID
    slow, rerun = busy.seeds
    assert slow.status is SeedStatus.OK and not slow.ok and slow.load_skew is not None
    assert slow.load_skew.detail.startswith("load-skewed: 20.0 img/s") and rerun.ok and rerun.load_skew is None
    assert busy.metrics == {"pbqc": 0.7, "dice": 0.6}  # the skewed run does not count in the means

    an = analyse(ledger, load_config(ws / "gg-research.toml"), ws)
    counts = an.counts()
    assert list(counts) == list(STATUS_ORDER)
    assert (counts["refused"], counts["invalid"], counts["keep"], counts["baseline"]) == (1, 1, 1, 1)
    others = dict((label, detail) for label, _, detail in headline_facts(an))["keeps / discards / crashes"]
    assert others == "1 invalid, 1 refused, 1 baseline"


def test_the_new_ledger_writes_the_cause_and_reads_it_back(tmp_path: Path) -> None:
    ledger = LedgerFile(tmp_path)
    exp = Experiment(id="e0001", tag="t", title="again")
    ledger.start(exp)
    settle(exp, Fate(Status.REFUSED, Cause.REPEATED_DIFF, "refused: repeated diff"))
    ledger.end(exp)
    lines = [json.loads(line) for line in (tmp_path / "results" / "experiments.jsonl").read_text().splitlines()]
    assert lines[-1]["status"] == "refused" and lines[-1]["cause"] == "repeated-diff" and "decision" not in lines[-1]
    back = ledger.read().experiments[0]
    assert (back.status, back.cause, back.reason) == (Status.REFUSED, Cause.REPEATED_DIFF, "refused: repeated diff")
    seed = SeedRun(0, "ok")
    assert seed.status is SeedStatus.OK and SeedRun.from_json(seed.to_json()) == seed


def test_an_experiment_ends_once_and_each_end_has_its_own_causes() -> None:
    exp = Experiment(id="e0001")
    settle(exp, Fate(Status.CRASH, Cause.NON_FINITE, "crash: non-finite dice"))
    assert (exp.status, exp.cause) == (Status.CRASH, Cause.NON_FINITE)
    with pytest.raises(LifecycleError, match="e0001: crash cannot become interrupted"):
        settle(exp, Fate(Status.INTERRUPTED, Cause.STOPPED, "stopped"))
    with pytest.raises(LifecycleError, match="keep cannot be caused by novelty"):
        Fate(Status.KEEP, Cause.NOVELTY, "")
    assert TRANSITIONS[Status.RUNNING] == frozenset(Status) - {Status.RUNNING}
    assert all(not TRANSITIONS[s] for s in Status if s.final)
    assert not Status.REFUSED.ran and not Status.REFUSED.measured and Status.INVALID.ran
