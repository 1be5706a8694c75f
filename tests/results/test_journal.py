"""The journal's definitions (results.journal) and the ledger's lesson and usage fields."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gg_research.config import ConfigError, load_config
from gg_research.results.journal import current_plateau, journal, night_cost, night_memory, plateaus
from gg_research.results.ledger import Experiment, LedgerFile, Status, read_workspace_ledger
from gg_research.results.record import Lesson, Usage
from gg_research.results.report import build_analysis, write_report
from gg_research.retrieval.context_block import estimate_tokens

DATA = Path(__file__).parent / "data"


def _e(n: int, status: Status, commit: bool = True, **kw) -> Experiment:
    return Experiment(id=f"e{n:04d}", tag="t", status=status, title=kw.pop("title", f"idea {n}"),
                      commit=f"c{n}" if commit else "", **kw)


@pytest.mark.parametrize("fixture,tag", [("real_loop", "nov22"), ("v0_1_optuna_loop", "old")])
def test_older_ledgers_load_without_lessons_or_usage(tmp_path: Path, fixture: str, tag: str) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(DATA / fixture, ws)
    exps = read_workspace_ledger(ws).experiments
    assert exps and all(e.lesson is None and e.usage is None for e in exps)
    assert journal(exps) == [] and night_cost(exps).requests == 0
    md = write_report(ws, load_config(ws / "gg-research.toml"), tag, formats=("md",)).read_text()
    assert "What we learned tonight" not in md and "proposer cost" not in md


def test_the_report_marks_a_plateau_of_the_configured_length(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(DATA / "real_loop", ws)
    cfg = load_config(ws / "gg-research.toml")
    assert build_analysis(ws, cfg, "nov22").plateaus == []  # five discards: shorter than the default 6
    cfg.proposer.plateau_after = 5
    an = build_analysis(ws, cfg, "nov22")
    assert [(p.ids, p.ended_by) for p in an.plateaus] == [(["e0002", "e0003", "e0004", "e0005", "e0006"], None)]
    assert ("longest plateau", "5 runs", "e0002..e0006 without a keep") in __import__(
        "gg_research.results.cards", fromlist=["headline_facts"]).headline_facts(an)


def test_lesson_and_usage_round_trip_and_read_leniently(tmp_path: Path) -> None:
    led = LedgerFile(tmp_path)
    exp = _e(2, Status.DISCARD, lesson=Lesson("warmup did nothing [d:1]", "e0001"),
             usage=Usage(100, 20, 300, 40, requests=2, cost_usd=0.0123, model="claude-sonnet-4-5"))
    led.start(exp)
    exp.status = Status.DISCARD
    led.end(exp)
    with open(led.jsonl, "a") as fh:  # older or odd shapes of the two fields
        fh.write(json.dumps({"event": "start", "id": "e0003", "lesson": "a bare text", "usage": {"input_tokens": "x"}}) + "\n")
        fh.write(json.dumps({"event": "start", "id": "e0004", "lesson": 42, "usage": [1]}) + "\n")
    got = {e.id: e for e in led.read().experiments}
    assert got["e0002"].lesson == exp.lesson and got["e0002"].usage == exp.usage
    assert got["e0003"].lesson == Lesson("a bare text") and got["e0003"].usage == Usage()
    assert got["e0004"].lesson is None and got["e0004"].usage is None
    total = night_cost(list(got.values()))
    assert (total.input_tokens, total.requests, total.cost_usd) == (100, 2, pytest.approx(0.0123))


def test_plateaus_count_runs_between_keeps() -> None:
    recs = [_e(1, Status.BASELINE), _e(2, Status.DISCARD), _e(3, Status.CRASH),
            _e(4, Status.INVALID, commit=False),  # refused before a run: not counted
            _e(5, Status.INTERRUPTED),  # stopped by the user: not counted
            _e(6, Status.KEEP), _e(7, Status.DISCARD), _e(8, Status.INVALID)]  # an integrity failure ran
    assert [(p.ids, p.ended_by) for p in plateaus(recs)] == [(["e0002", "e0003"], "e0006"), (["e0007", "e0008"], None)]
    assert current_plateau(recs).ids == ["e0007", "e0008"] and current_plateau(recs[:6]) is None


def test_night_memory_keeps_every_experiment_within_the_budget() -> None:
    recs = [_e(1, Status.BASELINE, metrics={"pbqc": 0.5, "dice": 0.4})]
    recs += [_e(n, Status.KEEP if n % 10 == 0 else Status.DISCARD, metrics={"pbqc": 0.5 + n / 1000, "dice": 0.4},
                reason="dominated by e0001 on every objective beyond the noise margin " * 2,
                title=f"change number {n} of the schedule and the loss weights")
             for n in range(2, 61)]
    recs[-3].lesson = Lesson("the schedule mattered more than the loss", about=recs[-4].id)
    roomy = night_memory(recs, ["pbqc", "dice"], 100_000, estimate_tokens)
    assert len(roomy) == 60 and all(" :: " in line for line in roomy[1:])
    assert "learned: the schedule mattered more" in roomy[-4]  # the lesson sits on the result it reads
    budget = 1500
    tight = night_memory(recs, ["pbqc", "dice"], budget, estimate_tokens)
    assert sum(estimate_tokens(x) for x in tight) <= budget
    assert tight[0].startswith("- e0001..") and "earlier experiments, summarised" in tight[0]
    last_summarised = int(tight[0].split("..e")[1].split(":")[0])
    shown = [int(line[3:7]) for line in tight[1:]]
    assert shown == list(range(last_summarised + 1, 61))  # nothing falls out: summarised or listed
    assert all(" :: " in line for line in tight[-8:])  # the newest stay whole
    assert any(" :: " not in line for line in tight[1:-8])  # older ones were shortened first


def test_a_cost_cap_needs_a_price(tmp_path: Path) -> None:
    cfg = tmp_path / "gg-research.toml"
    cfg.write_text('[proposer]\nmodel = "claude-unknown-9"\nmax_cost_usd = 5.0\n')
    with pytest.raises(ConfigError, match=r"gg-research.toml: proposer: max_cost_usd: no price for model 'claude-unknown-9'"):
        load_config(cfg)
    cfg.write_text('[proposer]\nmodel = "claude-sonnet-4-5-20250929"\nmax_cost_usd = 5.0\n')
    assert load_config(cfg).proposer.price().output == 15.0  # a dated id takes its family's price
    cfg.write_text('[proposer]\nmodel = "mine"\nmax_cost_usd = 1.0\n[proposer.prices.mine]\n'
                   'input = 1.0\noutput = 2.0\ncache_read = 0.1\ncache_write = 1.25\n')
    assert load_config(cfg).proposer.price().input == 1.0
