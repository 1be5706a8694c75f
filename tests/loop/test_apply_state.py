"""Edit checks in isolation, the proposer's view of the ledger, proposer selection and stop times."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from gg_research.loop.apply import check_edits, content_hash, mutable_contents, write_files
from gg_research.loop.errors import EditRefused
from gg_research.loop.hypothesis import HypothesisError, parse_hypothesis, tool_input_schema
from tests.loop.fakes import edit, make_workspace, records, run_scripted


def _hyp(*edits: dict) -> object:
    return parse_hypothesis({"title": "t", "edits": list(edits)})


def test_edits_apply_in_order_and_write_atomically(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("X = 1\nY = 2\n")
    h = _hyp({"path": "a.py", "search": "X = 1", "replace": "X = 5"}, {"path": "a.py", "search": "X = 5\nY", "replace": "X = 6\nY"})
    applied = check_edits(tmp_path, h, ["a.py"])
    assert applied.files == {"a.py": "X = 6\nY = 2\n"}
    assert (tmp_path / "a.py").read_text() == "X = 1\nY = 2\n"  # checking writes nothing
    write_files(tmp_path, applied)
    assert (tmp_path / "a.py").read_text() == "X = 6\nY = 2\n"
    assert applied.content_hash == content_hash(mutable_contents(tmp_path, ["a.py"]))
    assert not list(tmp_path.glob(".*gg-tmp"))


def test_a_later_failing_edit_refuses_the_whole_hypothesis(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("X = 1\n")
    h = _hyp({"path": "a.py", "search": "X = 1", "replace": "X = 2"}, {"path": "a.py", "search": "Z", "replace": "W"})
    with pytest.raises(EditRefused, match="edit 2: search text not found"):
        check_edits(tmp_path, h, ["a.py"])
    assert (tmp_path / "a.py").read_text() == "X = 1\n"


def test_missing_mutable_file_and_non_python_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("alpha\n")
    applied = check_edits(tmp_path, _hyp({"path": "notes.txt", "search": "alpha", "replace": "beta ("}), ["notes.txt"])
    assert applied.files["notes.txt"] == "beta (\n"  # not Python: no compile check
    with pytest.raises(EditRefused, match="does not exist"):
        check_edits(tmp_path, _hyp({"path": "gone.py", "search": "a", "replace": "b"}), ["gone.py"])


@pytest.mark.parametrize("data,needle", [
    ({"title": "x", "edits": []}, "edits"),
    ({"edits": [{"path": "a", "search": "b", "replace": "c"}]}, "title"),
    ({"title": "x", "edits": [{"path": "a", "search": "", "replace": "c"}]}, "edits.0.search"),
    ({"title": "x", "expected": {"pbqc": "sideways"}, "edits": [{"path": "a", "search": "b", "replace": "c"}]}, "expected"),
    ({"title": "x", "shell": "rm -rf /", "edits": [{"path": "a", "search": "b", "replace": "c"}]}, "unknown key"),
])
def test_invalid_hypotheses_name_the_field(data: dict, needle: str) -> None:
    with pytest.raises(HypothesisError, match=needle):
        parse_hypothesis(data)


def test_tool_schema_is_flat_and_hides_bookkeeping() -> None:
    schema = tool_input_schema()
    assert "meta" not in schema["properties"] and "$defs" not in schema
    assert schema["properties"]["edits"]["items"]["required"] == ["path", "search", "replace"]


def test_state_summary_shows_front_near_misses_and_collapses(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    eng, _, _ = run_scripted(ws, [
        edit("QA up", "QA = 1.0", "QA = 2.0"),
        edit("QB collapse", "QB = 1.0", "QB = -2.0"),
        edit("QA a hair down", "QA = 2.0", "QA = 1.98"),
    ])
    state = eng.session.state([])
    text = state.summary_text()
    assert [r.id for r in state.kept] == ["e0001", "e0002"]
    assert [r.id for r in state.collapses()] == ["e0003"]
    assert [r.id for r in state.near_misses()] == ["e0004"]
    assert "## Collapses" in text and "QB collapse" in text and "## Near-misses" in text
    assert "Noise margins (eps): pbqc" in text


def test_auto_without_a_key_uses_optuna_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.config import load_config
    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.loop.proposers.select import proposer_factory
    from gg_research.loop.ui import LoopUI

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    ws = make_workspace(tmp_path / "ws")
    buf = io.StringIO()
    ui = LoopUI(Console(file=buf, width=200))
    eng = LoopEngine(ws, load_config(ws / "gg-research.toml"), Options(tag="a", max_experiments=1, write_report=False),
                     proposer_factory(None, say=ui.say), ui=ui)
    assert eng.run() == 0
    assert "proposer: optuna (offline) because ANTHROPIC_API_KEY is not set" in buf.getvalue()
    assert records(ws)[-1].proposer == "optuna"


def test_until_stops_before_a_run_that_cannot_finish(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    soon = datetime.now().astimezone() + timedelta(seconds=0.5)  # less than the 1 s budget
    _, code, out = run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")], until=soon)
    assert code == 0 and "--until" in out
    assert [r.status for r in records(ws)] == ["baseline"]


@pytest.mark.slow
def test_report_is_refreshed_and_its_failure_never_stops_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path / "ws")
    _, code, _ = run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")], write_report=True)
    assert code == 0 and (ws / "results" / "report.html").is_file()

    from gg_research.results import report as results_report

    def broken(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(results_report, "write_report", broken)
    ws2 = make_workspace(tmp_path / "ws2")
    _, code, out = run_scripted(ws2, [edit("QA up", "QA = 1.0", "QA = 2.0")], write_report=True)
    assert code == 0 and "report not refreshed: RuntimeError: disk full" in out
    assert [r.status for r in records(ws2)] == ["baseline", "keep"]


def test_prompt_and_report_name_the_same_near_misses(tmp_path: Path) -> None:
    """One definition (results.pareto.near_misses): the prompt lists exactly the report's near misses."""
    from gg_research.config import Config
    from gg_research.loop.state import LoopState
    from gg_research.results.ledger import Experiment, LedgerFile, Status
    from gg_research.results.report import build_analysis

    cfg = Config.model_validate({"objectives": [{"name": "pbqc", "relative_floor": 0.5}, {"name": "dice"}]})
    eps = {"pbqc": 0.01, "dice": 0.01}
    runs = [
        ("e0001", Status.BASELINE, 0.60, 0.60),
        ("e0002", Status.KEEP, 0.70, 0.50),  # a trade-off: the front has two members
        # In the knee between them: far from the best of either objective, but one noise margin
        # from the front (a "within eps of the best on some objective" rule missed it).
        ("e0003", Status.DISCARD, 0.645, 0.545),
        ("e0004", Status.DISCARD, 0.50, 0.45),  # dominated even after the nudge: not one
        ("e0005", Status.DISCARD, 0.25, 0.605),  # best dice, but pbqc collapsed below its floor: never one
        ("e0006", Status.CRASH, 0.0, 0.0),
    ]
    led = LedgerFile(tmp_path)
    records = []
    for exp_id, status, pbqc, dice in runs:
        exp = Experiment(id=exp_id, tag="t", status=status, metrics={"pbqc": pbqc, "dice": dice} if status.measured else {},
                         epsilon=eps if status is Status.BASELINE else {})
        led.start(exp)
        led.end(exp)
        records.append(exp)
    state = LoopState(workspace=tmp_path, tag="t", config=cfg, brief="", files={}, records=records, eps=eps)
    in_prompt = [e.id for e in state.near_misses()]
    in_report = build_analysis(tmp_path, cfg, "t").near_misses
    assert in_prompt == in_report == ["e0003"]
    assert "e0003" in state.summary_text().split("## Near-misses")[1]
