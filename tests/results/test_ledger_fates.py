"""Red team of the typed lifecycle as the ledger reads it (issue 30, item 1): a hand-written line
(an agent past the guard rails, a careless edit) must not give an experiment a fate the lifecycle
forbids. `results.lifecycle.CAUSES` says a keep is only ever caused by the keep rule, and an
experiment ends once; the reader takes either kind of line as it comes, and the report's front
then holds a run that was never judged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gg_research.config import Config
from gg_research.results.analysis import analyse
from gg_research.results.ledger import read_ledger

BASELINE = {"event": "end", "id": "e0001", "status": "baseline", "cause": "measured", "commit": "a" * 40,
            "metrics": {"pbqc": 0.5, "dice": 0.5}}


def _ledger(tmp_path: Path, *lines: dict) -> Path:
    path = tmp_path / "results" / "experiments.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in (BASELINE, *lines)))
    return path


def test_a_keep_whose_cause_is_a_crash_is_said_and_left_off_the_front(tmp_path: Path) -> None:
    path = _ledger(tmp_path, {"event": "end", "id": "e0002", "status": "keep", "cause": "crashed",
                              "metrics": {"pbqc": 0.95, "dice": 0.95}})
    ledger = read_ledger(path)
    front = analyse(ledger, Config(), tmp_path).front
    assert "e0002" not in front, front
    assert any("e0002" in w for w in ledger.warnings), ledger.warnings


def test_a_second_end_line_does_not_turn_a_discard_into_a_keep(tmp_path: Path) -> None:
    judged = {"event": "end", "id": "e0002", "status": "discard", "cause": "keep-rule",
              "metrics": {"pbqc": 0.4, "dice": 0.4}}
    forged = {**judged, "status": "keep", "metrics": {"pbqc": 0.94, "dice": 0.94}}
    ledger = read_ledger(_ledger(tmp_path, judged, forged))
    assert ledger.get("e0002").status.value == "discard"
    assert "e0002" not in analyse(ledger, Config(), tmp_path).front
    assert any("e0002" in w for w in ledger.warnings), ledger.warnings


@pytest.mark.parametrize("seed", ["e0001", {"n": 1}, [3]])
def test_a_seed_number_of_the_wrong_shape_does_not_fail_the_read(tmp_path: Path, seed: object) -> None:
    """A hand-edited seed entry (`"seed": "e0001"`) made `read_ledger` raise ValueError/TypeError out of
    SeedRun.from_json: the report, `resume` and every later step could not read the ledger at all."""
    line = {"event": "end", "id": "e0002", "status": "discard", "cause": "keep-rule",
            "metrics": {"pbqc": 0.4, "dice": 0.4}, "seeds": [{"seed": seed, "status": "ok", "metrics": {"pbqc": 0.4}}]}
    ledger = read_ledger(_ledger(tmp_path, line))
    assert [e.id for e in ledger.experiments] == ["e0001", "e0002"]
