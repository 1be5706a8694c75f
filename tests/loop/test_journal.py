"""The night's journal through the real SDK and a fake Messages API: lessons, memory, novelty,
plateaus, cost, steering notes and the prompt preview."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gg_research.config import load_config
from tests.loop.fake_anthropic import FakeAnthropic, tool_use
from tests.loop.fakes import git, make_workspace, records
from tests.loop.test_claude import GOOD, KEY, PROGRAM_LINE, THESIS, FakeSearcher, _loop, _texts

USAGE = {"input_tokens": 1000, "output_tokens": 500, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 400}
# claude-sonnet-4-5 list prices per million tokens: 3 in, 15 out, 0.30 cache read, 3.75 cache write
COST = (1000 * 3 + 500 * 15 + 2000 * 0.30 + 400 * 3.75) / 1e6

ALIGN = {"title": "Double the alignment loss weight QA",
         "rationale": "The thesis [doc1:7] reports that a stronger alignment term stabilises the STN early in training.",
         "citations": ["doc1:7"], "edits": [{"path": "train.py", "search": "QA = 1.0", "replace": "QA = 2.0"}]}
# the same idea in other words, with another diff (so the identical-diff check does not catch it)
ALIGN_AGAIN = {"title": "Raise the alignment loss weight QA from 1 to 2",
               "rationale": "A heavier alignment term keeps the STN stable in early training, as [doc1:7] reports.",
               "edits": [{"path": "train.py", "search": "QA = 2.0", "replace": "QA = 2.5"}]}
WIDEN = {"title": "Widen the network to 16 channels", "rationale": "More capacity for thin defects.",
         "edits": [{"path": "train.py", "search": "WIDTH = 8", "replace": "WIDTH = 16"}]}
# Tests of other parts leave the embedder unloaded (it takes seconds); the novelty tests turn it on.
NO_NOVELTY = "novelty_check = false\n"


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    return make_workspace(tmp_path / "ws")


def _start_line(ws: Path, exp_id: str) -> dict:
    for raw in (ws / "results" / "experiments.jsonl").read_text().splitlines():
        line = json.loads(raw)
        if line["id"] == exp_id and line["event"] == "start":
            return line
    raise AssertionError(f"no start line for {exp_id}")


def _report(ws: Path) -> tuple[str, str, dict]:
    from gg_research.results.report import write_report

    write_report(ws, load_config(ws / "gg-research.toml"), tag="c")
    res = ws / "results"
    return (res / "report.md").read_text(), (res / "report.html").read_text(), json.loads((res / "report.json").read_text())


def test_lesson_and_cost_reach_the_ledger_the_report_and_the_result_line(ws: Path) -> None:
    lesson = "Doubling QA held up: PBQC rose as [doc1:7] predicted."
    replies = [(200, tool_use("search_knowledge", {"query": "alignment"}, "tu_1", USAGE)),
               (200, tool_use("propose_experiment", GOOD, "tu_2", USAGE)),
               (200, tool_use("propose_experiment", {**WIDEN, "lesson": lesson}, "tu_3", USAGE))]
    with FakeAnthropic(replies) as api:
        _, code, out = _loop(ws, api.url, n=2, extra=NO_NOVELTY)
    assert code == 0 and len(api.requests) == 3
    # the second proposal is asked what e0002 taught, and its lesson is recorded about e0002
    assert "In `lesson`, say what the result of e0002 (QA 1 -> 2 per the training schedule, keep) taught" in _texts(api.requests[2])
    assert "lesson" in api.requests[0]["tools"][1]["input_schema"]["properties"]
    base, first, second = records(ws)
    assert first.lesson is None and second.lesson is not None
    assert (second.lesson.about, second.lesson.text) == ("e0002", lesson)
    assert _start_line(ws, "e0003")["lesson"] == {"about": "e0002", "text": lesson}  # known when the run starts
    assert "lesson" not in second.hypothesis
    # usage: both requests of the first conversation, one of the second, priced by the config
    assert (first.usage.requests, first.usage.input_tokens, first.usage.cache_read_tokens) == (2, 2000, 4000)
    assert first.usage.cache_write_tokens == 800 and first.usage.output_tokens == 1000
    assert first.usage.cost_usd == pytest.approx(2 * COST) and second.usage.cost_usd == pytest.approx(COST)
    assert f"${3 * COST:.2f} (3 requests: 3,000 in, 1,500 out, cache 6,000 read / 1,200 written tokens)" in out
    assert f"${2 * COST:.3f}" in out  # e0002's result line
    md, html, data = _report(ws)
    assert "## What we learned tonight" in md and lesson in md and "e0002 [keep] QA 1 -> 2" in md
    assert 'id="journal"' in html and "Doubling QA held up" in html
    assert data["journal"] == [{"about": "e0002", "lesson": lesson, "stated_by": "e0003"}]
    assert data["cost"]["cost_usd"] == pytest.approx(3 * COST) and data["cost"]["requests"] == 3
    assert "proposer cost (estimated)" in md and f"${3 * COST:.2f}" in md


@pytest.mark.slow
def test_a_reworded_repeat_is_refused_before_anything_is_committed(ws: Path) -> None:
    replies = [(200, tool_use("propose_experiment", ALIGN, "tu_1")),
               (200, tool_use("propose_experiment", ALIGN_AGAIN, "tu_2")),
               (200, tool_use("propose_experiment", WIDEN, "tu_3"))]
    with FakeAnthropic(replies) as api:
        _, code, _ = _loop(ws, api.url, n=2, extra="max_refusals = 2\n")
    assert code == 0
    recs = records(ws)
    assert [r.status for r in recs][:3] == ["baseline", "keep", "refused"]
    refused = recs[2]
    assert refused.title == ALIGN_AGAIN["title"] and refused.cause == "novelty"
    assert "too close to e0002 ('Double the alignment loss weight QA', keep)" in refused.reason
    assert not refused.commit and not refused.diff and not (ws / "results" / "runs" / refused.id).exists()
    # nothing of it reached git or the files
    assert ALIGN_AGAIN["title"] not in git(ws, "log", "--all", "--format=%s")
    assert "QA = 2.5" not in (ws / "train.py").read_text() and git(ws, "status", "--porcelain") == ""
    # the reason went back to Claude naming the experiment, and the next idea ran
    assert "too close to e0002" in _texts(api.requests[2])
    assert recs[3].title == WIDEN["title"] and recs[3].commit and recs[3].status in ("keep", "discard")


def test_novelty_check_without_an_embedder_is_off_and_said_once(ws: Path) -> None:
    toml = ws / "gg-research.toml"
    toml.write_text(toml.read_text() + '\n[knowledge]\nembedder = "/no/such/model"\n')
    git(ws, "commit", "-qam", "no embedder")
    replies = [(200, tool_use("propose_experiment", ALIGN, "tu_1")),
               (200, tool_use("propose_experiment", ALIGN_AGAIN, "tu_2")),
               (200, tool_use("propose_experiment", WIDEN, "tu_3"))]
    with FakeAnthropic(replies) as api:
        _, code, out = _loop(ws, api.url, n=3)
    assert code == 0 and out.count("novelty check off for this loop") == 1
    assert [r.status.kept or r.status == "discard" for r in records(ws)] == [True] * 4  # all three ran


def test_a_plateau_changes_the_prompt_and_can_end_the_night(ws: Path) -> None:
    lower = {"title": "Lower QA to 0.7", "rationale": "Less alignment pressure.",
             "edits": [{"path": "train.py", "search": "QA = 1.0", "replace": "QA = 0.7"}]}
    act = {"title": "Switch the activation to GELU", "rationale": "Smoother gradients.",
           "edits": [{"path": "train.py", "search": 'ACT = "relu"', "replace": 'ACT = "gelu"'}]}
    lower_b = {"title": "Lower QB to 0.5", "rationale": "Segmentation loss was too strong.",
               "edits": [{"path": "train.py", "search": "QB = 1.0", "replace": "QB = 0.5"}]}
    replies = [(200, tool_use("propose_experiment", h, f"tu_{i}")) for i, h in enumerate([lower, act, lower_b, GOOD])]
    with FakeAnthropic(replies) as api:
        eng, code, out = _loop(ws, api.url, n=10, extra="plateau_after = 2\n" + NO_NOVELTY, stop_after_plateau=3)
    statuses = [r.status for r in records(ws)]
    assert statuses == ["baseline", "discard", "discard", "discard"]
    assert "plateau" not in _texts(api.requests[1]).lower()
    third = _texts(api.requests[2])
    assert "# Plateau: 2 experiments without a keep (e0002..e0003)" in third
    assert "architecture, loss, data, curriculum, schedule" in third
    assert len(api.requests) == 3 and "3 experiments without a keep (e0002..e0004; --stop-after-plateau)" in out
    md, html, data = _report(ws)
    assert "3 experiments without a keep: e0002..e0004, still on at the end of the ledger" in md
    assert 'class="plateau"' in html and data["plateaus"] == [{"ids": ["e0002", "e0003", "e0004"], "ended_by": None}]


@pytest.mark.parametrize("fallback", ["optuna", "wait"])
def test_the_cost_cap_ends_claudes_part_of_the_night(ws: Path, fallback: str) -> None:
    replies = [(200, tool_use("propose_experiment", GOOD, "tu_1", USAGE)),
               (200, tool_use("propose_experiment", WIDEN, "tu_2", USAGE))]
    extra = f'max_cost_usd = {COST / 2}\nfallback = "{fallback}"\n' + NO_NOVELTY
    with FakeAnthropic(replies) as api:
        _, code, out = _loop(ws, api.url, n=3, extra=extra)
    assert code == 0 and len(api.requests) == 1  # nothing asked of Claude once the cap is reached
    assert f"reached proposer.max_cost_usd ${COST / 2:.2f}" in out
    recs = records(ws)
    assert recs[1].proposer == "claude" and recs[1].usage.cost_usd == pytest.approx(COST)
    if fallback == "optuna":
        assert [r.proposer for r in recs[2:]] == ["optuna", "optuna"]
    else:
        assert len(recs) == 2 and "loop stopped: claude's estimated cost reached proposer.max_cost_usd" in out


def test_a_note_reaches_the_next_prompt_and_leaves_the_worktree_clean(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.cli import main

    replies = [(200, tool_use("propose_experiment", GOOD, "tu_1")), (200, tool_use("propose_experiment", WIDEN, "tu_2"))]
    with FakeAnthropic(replies) as api:
        _loop(ws, api.url, n=1, extra=NO_NOVELTY)
        monkeypatch.chdir(ws)
        assert main(["note", "try the focal loss on thin defects"]) == 0
        assert git(ws, "status", "--porcelain") == ""  # the note is outside what git tracks
        _loop(ws, api.url, n=1, configured=True)
    assert "try the focal loss" not in _texts(api.requests[0])
    second = _texts(api.requests[1])
    assert "# Notes from the researcher" in second and "try the focal loss on thin defects" in second
    rec = records(ws)[-1]
    assert rec.title == WIDEN["title"] and rec.status in ("keep", "discard")  # the integrity checks passed
    assert git(ws, "status", "--porcelain") == ""


def test_empty_note_is_refused_and_nothing_written(ws: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from gg_research.cli import main

    monkeypatch.chdir(ws)
    assert main(["note", "   "]) == 2
    assert "gg-research note: error: the note is empty" in capsys.readouterr().err
    assert not (ws / ".gg" / "notes.jsonl").exists()


def test_the_preview_is_the_next_request_and_calls_nothing(ws: Path) -> None:
    from gg_research.loop.grounding import Grounding
    from gg_research.loop.preview import show_prompt

    replies = [(200, tool_use("propose_experiment", GOOD, "tu_1")), (200, tool_use("propose_experiment", WIDEN, "tu_2"))]
    with FakeAnthropic(replies) as api:
        _loop(ws, api.url, n=1, extra=NO_NOVELTY)
        cfg = load_config(ws / "gg-research.toml")
        grounding = Grounding(ws, cfg, print)
        grounding._searcher = FakeSearcher()
        head = git(ws, "rev-parse", "HEAD")
        (ws / "train.py").write_text("# an uncommitted edit the preview must not show or touch\n")
        text = show_prompt(ws, cfg, "c", "text", grounding=grounding)
        body = json.loads(show_prompt(ws, cfg, "c", "json", grounding=grounding))
        assert len(api.requests) == 1  # the preview asked nothing
        assert git(ws, "rev-parse", "HEAD") == head and "uncommitted edit" in (ws / "train.py").read_text()
        git(ws, "checkout", "--", "train.py")
        _loop(ws, api.url, n=1, configured=True)
    assert THESIS.text in text and "[doc1:7] thesis.pdf pp. 42-43" in text and PROGRAM_LINE in text
    assert "===== user turn, block 1 (cache_control: ephemeral) =====" in text and "QA = 2.0" in text
    sent = api.requests[1]
    assert {k: sent[k] for k in body} == body  # exactly what Claude received next


@pytest.mark.slow
def test_show_prompt_command_needs_no_key_and_changes_nothing(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    proc = subprocess.run([sys.executable, "-m", "gg_research.cli", "loop", "--tag", "n1", "--show-prompt"],
                          cwd=ws, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert PROGRAM_LINE in proc.stdout and "# Retrieved passages" in proc.stdout and "QA = 1.0" in proc.stdout
    assert "no baseline yet" in proc.stderr
    assert git(ws, "branch", "--list").split() == ["*", "main"] and git(ws, "status", "--porcelain") == ""
