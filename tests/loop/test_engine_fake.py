"""The loop end to end on a command-based workspace: statuses, branch, tags, diffs, ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from gg_research.loop.errors import LoopLocked, LoopSetupError
from gg_research.loop.lock import LoopLock
from tests.harness.procs import all_gone
from tests.loop.fakes import edit, git, make_workspace, records, run_scripted, tsv_rows


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def _tags(ws: Path) -> list[str]:
    return git(ws, "tag", "--list", "gg/*").split()


def _head(ws: Path) -> str:
    return git(ws, "rev-parse", "HEAD").strip()


def test_improve_is_kept_and_tagged(ws: Path) -> None:
    eng, code, out = run_scripted(ws, [edit("QA 1 -> 2", "QA = 1.0", "QA = 2.0")])
    assert code == 0
    recs = records(ws)
    assert [r.status for r in recs] == ["baseline", "keep"]
    base, exp = recs
    assert len(base.seeds) == 2 and base.seeds[0].seed != base.seeds[1].seed
    assert base.sigma["pbqc"] > 0
    assert exp.metrics["pbqc"] == pytest.approx(0.7, abs=0.01)
    assert git(ws, "rev-parse", "--abbrev-ref", "HEAD").strip() == "autoresearch/t"
    assert _head(ws) == exp.commit
    assert git(ws, "log", "-1", "--format=%s").strip() == "QA 1 -> 2"
    assert sorted(_tags(ws)) == ["gg/t/e0001", "gg/t/e0002"]
    diff = (ws / exp.diff).read_text()
    assert "-QA = 1.0" in diff and "+QA = 2.0" in diff
    assert (ws / exp.log).is_file()
    rows = tsv_rows(ws)
    assert rows[0][0] == "experiment" and [r[0] for r in rows[1:]] == ["e0001", "e0002"]
    assert rows[2][6] == "keep" and rows[2][1] == exp.commit[:7]
    assert "e0002" in out and "keep" in out
    # every record has a start and an end line
    lines = (ws / "results" / "experiments.jsonl").read_text().splitlines()
    assert len(lines) == 4


def test_worse_is_discarded_reset_and_diff_kept(ws: Path) -> None:
    start = _head(ws)
    _, code, _ = run_scripted(ws, [edit("QA down", "QA = 1.0", "QA = 0.7")])
    assert code == 0
    exp = records(ws)[-1]
    assert exp.status == "discard" and "dominated" in exp.reason
    assert _head(ws) == start
    assert "QA = 1.0" in (ws / "train.py").read_text()
    assert "+QA = 0.7" in (ws / exp.diff).read_text()
    assert _tags(ws) == ["gg/t/e0001"]
    # the discarded commit is no longer on the branch
    assert exp.commit not in git(ws, "rev-list", "autoresearch/t")


@pytest.mark.parametrize("mode,needle", [("crash", "boom in train"), ("nan", "non-finite")])
def test_crash_and_nan_end_as_crash(ws: Path, mode: str, needle: str) -> None:
    start = _head(ws)
    _, code, _ = run_scripted(ws, [edit(f"mode {mode}", 'MODE = "ok"', f'MODE = "{mode}"')])
    exp = records(ws)[-1]
    assert code == 0 and exp.status == "crash"
    assert needle in exp.reason
    assert _head(ws) == start and 'MODE = "ok"' in (ws / "train.py").read_text()
    assert (ws / exp.diff).read_text()
    import json

    def strict(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    for line in (ws / "results" / "experiments.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=strict)


@pytest.mark.slow
def test_hang_is_killed_at_the_hard_limit(ws: Path) -> None:
    import time

    t0 = time.monotonic()
    _, code, _ = run_scripted(ws, [edit("hang", 'MODE = "ok"', 'MODE = "hang"')])
    exp = records(ws)[-1]
    assert exp.status == "crash" and "timeout" in exp.reason
    assert time.monotonic() - t0 < 30
    assert "killed at the hard limit" in exp.reason  # it did start: it was killed, not refused
    assert all_gone(str(ws))


@pytest.mark.parametrize("hyp,needle", [
    (edit("missing", "QA = 9.0", "QA = 2.0"), "not found"),
    (edit("twice", "= 1.0", "= 2.0"), "found 2 times"),
    (edit("syntax", "QA = 1.0", "QA = (1.0"), "does not compile"),
    (edit("noop", "QA = 1.0", "QA = 1.0"), "empty diff"),
    (edit("frozen", "Raise PBQC", "Lower PBQC", path="program.md"), "frozen"),
    (edit("harness", "import json", "import json, shutil", path="fake_run.py"), "frozen"),
    (edit("escape", "x", "y", path="../outside.py"), "leaves the workspace"),
    (edit("absolute", "x", "y", path="/etc/hostname"), "absolute"),
])
def test_refused_hypotheses_are_refused_and_change_nothing(ws: Path, hyp: dict, needle: str) -> None:
    before = {p: (ws / p).read_text() for p in ("train.py", "program.md", "fake_run.py")}
    start = _head(ws)
    _, code, _ = run_scripted(ws, [hyp])
    exp = records(ws)[-1]
    assert code == 0 and exp.status == "refused" and exp.cause == "bad-edit" and not exp.commit
    assert needle in exp.reason
    assert _head(ws) == start
    assert {p: (ws / p).read_text() for p in before} == before
    assert tsv_rows(ws)[-1][6] == "refused"


def test_symlink_out_of_the_workspace_is_refused(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.py"
    outside.write_text("X = 1\n")
    (ws / "link.py").symlink_to(outside)
    _, _, _ = run_scripted(ws, [edit("via link", "X = 1", "X = 2", path="link.py")])
    assert records(ws)[-1].status == "refused"
    assert outside.read_text() == "X = 1\n"


def test_repeated_diff_is_refused(ws: Path) -> None:
    h = edit("QA down", "QA = 1.0", "QA = 0.7")
    run_scripted(ws, [h, {**h, "title": "again"}])
    recs = records(ws)
    assert [r.status for r in recs] == ["baseline", "discard", "refused"]
    assert "repeated diff" in recs[-1].reason and recs[-1].cause == "repeated-diff"


def test_a_run_cannot_write_a_frozen_file_in_the_sandbox(ws: Path) -> None:
    _, _, _ = run_scripted(ws, [edit("tamper", 'MODE = "ok"', 'MODE = "write_frozen"')])
    exp = records(ws)[-1]
    assert exp.status == "crash" and "Read-only file system" in exp.reason and "program.md" in exp.reason
    assert "tampered" not in (ws / "program.md").read_text()
    assert git(ws, "status", "--porcelain", "--untracked-files=no") == ""


def test_without_the_sandbox_a_run_that_writes_a_frozen_file_is_invalid_and_reverted(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", run_extra='sandbox = "off"')
    _, _, out = run_scripted(ws, [edit("tamper", 'MODE = "ok"', 'MODE = "write_frozen"')])
    exp = records(ws)[-1]
    assert exp.status == "invalid" and "program.md" in exp.reason
    assert "tampered" not in (ws / "program.md").read_text()
    assert git(ws, "status", "--porcelain", "--untracked-files=no") == ""


def test_collapse_below_relative_floor_is_discarded(ws: Path) -> None:
    _, _, _ = run_scripted(ws, [edit("QB collapse, QA up", "QB = 1.0", "QB = -2.0")])
    exp = records(ws)[-1]
    assert exp.status == "discard" and exp.collapse is True
    assert "dice" in exp.reason and "collapsed" in exp.reason


def test_marginal_win_is_rerun_and_judged_on_the_mean(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", keep_extra="min_epsilon = 0.01")
    _, _, out = run_scripted(ws, [edit("QA a bit", "QA = 1.0", "QA = 1.15")])
    exp = records(ws)[-1]
    assert len(exp.seeds) == 2 and exp.seeds[0].seed != exp.seeds[1].seed
    assert "mean of 2 seeds" in exp.reason
    assert exp.status == "keep"
    assert "re-run" in out


def _busy_and_better() -> dict:
    hyp = edit("QA up on a busy night", "QA = 1.0", "QA = 2.0")
    hyp["edits"].append({"path": "train.py", "search": 'MODE = "ok"', "replace": 'MODE = "busy"'})
    return hyp


def test_a_run_slowed_by_a_busy_machine_is_run_again_and_judged_on_the_re_run(ws: Path) -> None:
    _, code, out = run_scripted(ws, [_busy_and_better()])
    assert code == 0
    exp = records(ws)[-1]
    assert [s.status for s in exp.seeds] == ["ok", "ok"] and [s.ok for s in exp.seeds] == [False, True]
    assert exp.seeds[0].seed == exp.seeds[1].seed
    skew = exp.seeds[0].load_skew
    assert skew is not None and exp.seeds[1].load_skew is None
    assert skew.detail == ("load-skewed: 22.2 img/s against the baseline's 88.9 while the machine was busy "
                           "(its processes got 30% of the CPU they asked for, the baseline's 95%)")
    assert skew.reference["img_per_sec"] == pytest.approx(88.9, abs=0.1) and skew.tolerance == 0.3
    assert exp.aux["img_per_sec"] == pytest.approx(88.9, abs=0.1)  # the means are the re-run's alone
    assert exp.status == "keep" and "load-skewed" not in exp.reason
    assert "running it again" in out


def test_under_an_images_budget_a_slowed_run_is_judged_and_marked_not_re_run(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", run_extra='budget = "images"\nbudget_images = 1000')
    _, code, _ = run_scripted(ws, [_busy_and_better()])
    assert code == 0
    exp = records(ws)[-1]
    assert [s.status for s in exp.seeds] == ["ok"] and exp.seeds[0].load_skew is None
    assert exp.status == "keep" and "[load-skewed: 22.2 img/s" in exp.reason


def test_the_paired_test_keeps_a_win_on_every_image_and_discards_a_scattered_one(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", keep_extra='test = "paired"')
    scattered = edit("QB a bit more, scattered", "QB = 2.0", "QB = 2.3")
    scattered["edits"].append({"path": "train.py", "search": "SPREAD = 0.0", "replace": "SPREAD = 25.0"})
    _, code, _ = run_scripted(ws, [edit("QB up", "QB = 1.0", "QB = 2.0"), scattered])
    assert code == 0
    base, sure, unsure = records(ws)
    assert sure.status == "keep" and "paired vs e0001: Δpbqc +0.0000 [+0.0000, +0.0000] (95%, 24 images)" in sure.reason
    assert "Δdice +0.0832 [+0.0832, +0.0832]" in sure.reason
    assert unsure.status == "discard", unsure.reason
    assert unsure.reason.startswith("not surely better than its parent e0002 on the same images: Δpbqc")


def _bistable(tmp_path: Path, test: str) -> Path:
    """A workspace whose baseline's first seed finds no defect (Dice 0.05; a typical seed 0.50)."""
    ws = make_workspace(tmp_path / "ws", keep_extra=f'test = "{test}"')
    (ws / "train.py").write_text((ws / "train.py").read_text().replace("COLLAPSE_SEED = -1", "COLLAPSE_SEED = 0"))
    git(ws, "commit", "-qam", "a bistable target")
    return ws


# Only shifts the random stream: the same code on a typical draw.
SHIFTED = edit("draw two numbers first", "SHIFT = 0", "SHIFT = 2")


def test_one_collapsed_baseline_seed_makes_a_shifted_seed_surely_better_for_the_paired_test(tmp_path: Path) -> None:
    _, code, _ = run_scripted(_bistable(tmp_path, "paired"), [SHIFTED], baseline_seeds=1)
    assert code == 0
    base, exp = records(tmp_path / "ws")
    assert [s.collapse for s in base.seeds] == [[]]  # one seed: nothing to tell it collapsed from
    assert exp.status == "keep" and "Δdice +0.5705" in exp.reason  # the false keep of the issue


def test_paired_all_pairs_every_baseline_seed_and_keeps_a_real_gain_over_a_collapsed_one(tmp_path: Path) -> None:
    ws = _bistable(tmp_path, "paired-all")
    real = edit("QB up, on a typical draw", "QB = 1.0", "QB = 2.0")  # on seed 0 it would collapse as well
    real["edits"].append({"path": "train.py", "search": "SHIFT = 0", "replace": "SHIFT = 2"})
    _, code, _ = run_scripted(ws, [SHIFTED, real], baseline_seeds=2)
    assert code == 0
    base, shifted, real = records(ws)
    assert [s.collapse for s in base.seeds] == [["dice"], []]  # marked in the ledger, seed by seed
    # The margin is min_epsilon: the 2 sigma of a collapsed and a typical seed (0.64 Dice) would
    # refuse any gain; the seeds are paired one by one instead.
    assert base.epsilon == {"pbqc": 0.005, "dice": 0.005}
    assert shifted.status == "discard" and shifted.seeds[0].collapse == [] and not shifted.collapse
    assert shifted.reason.startswith("worse than its parent e0001 on the same images: seed 0: Δpbqc +0.0016")
    assert "| seed 1: Δpbqc +0.0008" in shifted.reason and "Δdice -0.0009 [-0.0009, -0.0009]" in shifted.reason
    assert real.status == "keep" and "paired vs e0001: seed 0:" in real.reason and "| seed 1:" in real.reason


def test_paired_all_without_per_image_counts_keeps_the_seed_spread_as_its_margin(tmp_path: Path) -> None:
    ws = _bistable(tmp_path, "paired-all")
    # A [run] command that writes its metrics and nothing per image: there is nothing to pair.
    source = (ws / "train.py").read_text()
    assert "    per_image(pbqc, dice)\n" in source
    (ws / "train.py").write_text(source.replace("    per_image(pbqc, dice)\n", ""))
    git(ws, "commit", "-qam", "metrics only")
    _, code, _ = run_scripted(ws, [SHIFTED], baseline_seeds=2)
    assert code == 0
    base, shifted = records(ws)
    assert not (ws / base.seeds[0].run_dir / "per_image.npz").exists()
    # With min_epsilon and no pairing, the shifted seed (Dice 0.50 against a mean of 0.27) would be
    # a keep; the 2 sigma of the two seeds holds it off.
    assert base.epsilon["dice"] == pytest.approx(0.636, abs=0.001)
    assert "cannot pair, eps stays 2 sigma" in base.reason
    assert shifted.status == "discard" and "within noise" in shifted.reason


def test_pareto_tradeoff_is_kept_and_parent_can_be_another_front_member(ws: Path) -> None:
    hyps = [
        edit("QA up", "QA = 1.0", "QA = 2.0"),  # e0002 keep
        edit("QB up from the baseline", "QB = 1.0", "QB = 2.5", parent="e0001"),  # from the baseline
    ]
    hyps.append(edit("QB from a discarded run", "QB = 2.5", "QB = 0.5", parent="e0009"))
    _, _, out = run_scripted(ws, hyps)
    recs = records(ws)
    assert [r.status for r in recs] == ["baseline", "keep", "keep", "discard"]
    assert "parent e0009 is not a kept run" in out and recs[3].parent == "e0003"
    e3 = recs[2]
    assert e3.parent == "e0001" and e3.parent_commit == recs[0].commit
    assert git(ws, "rev-parse", e3.commit + "^").strip() == recs[0].commit
    # the first keep stays reachable through its tag
    assert git(ws, "rev-parse", "gg/t/e0002").strip() == recs[1].commit


def test_max_experiments_stops(ws: Path) -> None:
    hyps = [edit(f"QA {v}", "QA = 1.0", f"QA = {v}") for v in (0.9, 0.8, 0.7)]
    _, code, out = run_scripted(ws, hyps, max_experiments=2)
    assert code == 0 and len(records(ws)) == 3
    assert "--max-experiments" in out


def test_second_loop_is_refused(ws: Path) -> None:
    with LoopLock(ws):
        with pytest.raises(LoopLocked, match="another loop"):
            run_scripted(ws, [edit("QA", "QA = 1.0", "QA = 2.0")])
    assert not (ws / "results" / "experiments.jsonl").exists()


def test_dirty_mutable_file_is_refused(ws: Path) -> None:
    (ws / "train.py").write_text((ws / "train.py").read_text() + "\n# local change\n")
    with pytest.raises(LoopSetupError, match="uncommitted changes"):
        run_scripted(ws, [edit("QA", "QA = 1.0", "QA = 2.0")])
    assert "# local change" in (ws / "train.py").read_text()
    assert git(ws, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_existing_branch_without_ledger_is_refused(ws: Path) -> None:
    git(ws, "branch", "autoresearch/t")
    with pytest.raises(LoopSetupError, match="already exists"):
        run_scripted(ws, [edit("QA", "QA = 1.0", "QA = 2.0")])


def test_baseline_crash_stops_with_a_clear_error(ws: Path) -> None:
    (ws / "train.py").write_text((ws / "train.py").read_text().replace('MODE = "ok"', 'MODE = "crash"'))
    git(ws, "commit", "-q", "-am", "broken")
    with pytest.raises(LoopSetupError, match="baseline seed 0 crash"):
        run_scripted(ws, [edit("QA", "QA = 1.0", "QA = 2.0")])
    assert records(ws)[-1].status == "crash"


def test_resume_continues_the_script_without_duplicates(ws: Path) -> None:
    hyps = [edit("QA up", "QA = 1.0", "QA = 2.0"), edit("QB up", "QB = 1.0", "QB = 2.0")]
    run_scripted(ws, hyps, max_experiments=1)
    _, code, out = run_scripted(ws, hyps)
    recs = records(ws)
    assert code == 0 and "resumed" in out
    assert [r.id for r in recs] == ["e0001", "e0002", "e0003"]
    assert [r.title for r in recs] == ["baseline", "QA up", "QB up"]
    assert [r[0] for r in tsv_rows(ws)[1:]] == ["e0001", "e0002", "e0003"]


def test_changed_frozen_inputs_make_the_run_invalid(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.loop import integrity

    prints = iter([{"val_split": "aaa", "harness_code": "h"}] + [{"val_split": "bbb", "harness_code": "h"}] * 5)
    monkeypatch.setattr(integrity, "frozen_fingerprint", lambda ws_, cfg: next(prints))
    start = _head(ws)
    run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")])
    base, exp = records(ws)
    assert base.frozen["val_split"] == "aaa"
    assert exp.status == "invalid" and "frozen inputs changed" in exp.reason and "val_split" in exp.reason
    assert exp.seeds == []  # refused before the run
    assert _head(ws) == start and _tags(ws) == ["gg/t/e0001"]


def test_a_commit_the_loop_did_not_make_is_kept_on_a_side_branch_on_resume(ws: Path) -> None:
    hyps = [edit("QA up", "QA = 1.0", "QA = 2.0"), edit("QB up", "QB = 1.0", "QB = 2.0")]
    run_scripted(ws, hyps, max_experiments=1)
    (ws / "notes.txt").write_text("my own work\n")
    git(ws, "add", "notes.txt")
    git(ws, "commit", "-q", "-m", "researcher's own commit")
    mine = _head(ws)
    _, code, out = run_scripted(ws, hyps)
    assert code == 0 and f"kept on branch gg/t/rescued-{mine[:7]}" in out
    assert git(ws, "rev-parse", f"gg/t/rescued-{mine[:7]}").strip() == mine
    assert mine not in git(ws, "rev-list", "autoresearch/t")  # reset away from the loop's branch, not lost


def test_an_unexpected_error_cleans_up_like_ctrl_c_and_says_where(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disk full mid-run: the experiment in flight is ended, the branch reset, one line names the path."""
    from gg_research.loop.errors import LoopAborted
    from gg_research.loop.trial import Trial

    real = Trial.judge

    def disk_full(self, exp, *args, **kwargs):
        real(self, exp, *args, **kwargs)
        raise OSError(28, "No space left on device", str(ws / "results" / "runs" / exp.id / "run.log"))

    monkeypatch.setattr(Trial, "judge", disk_full)
    with pytest.raises(LoopAborted) as info:
        run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")])
    msg = str(info.value)
    assert "\n" not in msg and "No space left on device" in msg and "run.log" in msg
    recs = records(ws)
    assert [r.status for r in recs] == ["baseline", "interrupted"] and "No space left" in recs[-1].reason
    assert _head(ws) == recs[0].commit
    LoopLock(ws).acquire().release()  # the lock was let go


def test_a_ledger_that_cannot_be_written_stops_the_loop_with_one_line(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.loop.errors import LoopAborted
    from gg_research.results import ledger as ledger_mod

    run_scripted(ws, [], max_experiments=0)  # the baseline
    path = ws / "results" / "experiments.jsonl"
    before = path.read_bytes()

    def read_only(p: Path, line: str) -> None:
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(ledger_mod, "_append", read_only)
    with pytest.raises(LoopAborted) as info:
        run_scripted(ws, [edit("QA up", "QA = 1.0", "QA = 2.0")])
    msg = str(info.value)
    assert "\n" not in msg and "experiments.jsonl: Permission denied" in msg and "resumes" in msg
    assert path.read_bytes() == before
    assert _head(ws) == records(ws)[0].commit
    LoopLock(ws).acquire().release()  # the lock was let go
