"""Red team of the lifecycle's typed fates (issue 30, item 1): a run that breaks the harness's rules
is `invalid`, whichever run of the experiment it is. The first run and a marginal win's re-run are
checked for that (loop.trial: `_first_run`, `_rerun_marginal`); the re-run after a busy machine
(`_load_skew`) is only asked whether it is ok, so breaking the rules there is recorded as a crash
("re-run after a busy machine failed"), and the report counts it with the crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.loop.fakes import edit, make_workspace, records, run_scripted


@pytest.mark.slow
def test_a_busy_machines_re_run_that_breaks_the_rules_is_invalid(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", run_extra="max_output_mb = 1")
    hyp = edit("QA up on a busy night", "QA = 1.0", "QA = 2.0")
    hyp["edits"].append({"path": "train.py", "search": 'MODE = "ok"', "replace": 'MODE = "busy"'})
    # On its re-run the edit writes 3 MB to its output folder, over [run] max_output_mb: the harness's rule.
    # (In files under 1 MB each: a single file over the cap meets the box's RLIMIT_FSIZE first, and the
    # harness reports that as a crash of the run, whichever run it is: not what is tested here.)
    hyp["edits"].append({"path": "train.py", "search": "    per_image(pbqc, dice)\n",
                         "replace": "    per_image(pbqc, dice)\n"
                                    "    if os.environ['GG_RUN_DIR'].endswith('rerun-load'):\n"
                                    "        for i in range(4):\n"
                                    "            open(os.path.join(os.environ['GG_RUN_DIR'], f'junk{i}'), 'wb').write(b'0' * 800_000)\n"
                                    "        import time; time.sleep(1)\n"})
    _, code, out = run_scripted(ws, [hyp])
    assert code == 0, out
    exp = records(ws)[-1]
    assert [s.status.value for s in exp.seeds] == ["ok", "invalid"], (exp.seeds, out)
    assert exp.status.value == "invalid", (exp.status, exp.cause, exp.reason)


@pytest.mark.slow
def test_a_busy_machines_re_run_gets_the_work_tree_check_of_every_run(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", run_extra='sandbox = "off"')  # the box would refuse the write itself
    hyp = edit("QA up, tampering on its re-run", "QA = 1.0", "QA = 2.0")
    hyp["edits"].append({"path": "train.py", "search": 'MODE = "ok"', "replace": 'MODE = "busy"'})
    hyp["edits"].append({"path": "train.py", "search": "    per_image(pbqc, dice)\n",
                         "replace": "    per_image(pbqc, dice)\n"
                                    "    if os.environ['GG_RUN_DIR'].endswith('rerun-load'):\n"
                                    "        open('program.md', 'a').write('tampered\\n')\n"})
    _, code, out = run_scripted(ws, [hyp])
    assert code == 0, out
    exp = records(ws)[-1]
    assert len(exp.seeds) == 2, (exp.seeds, out)  # the first run and the busy machine's re-run
    assert (exp.status.value, exp.cause) == ("invalid", "integrity"), (exp.status, exp.cause, exp.reason)
    assert "re-run after a busy machine" in exp.reason and "program.md" in exp.reason


@pytest.mark.slow
def test_a_baseline_seed_gets_the_checks_of_every_run(tmp_path: Path) -> None:
    from gg_research.loop.errors import LoopSetupError
    from tests.loop.fakes import git

    ws = make_workspace(tmp_path / "ws", run_extra='sandbox = "off"')  # the box would refuse the write itself
    train = ws / "train.py"
    train.write_text(train.read_text().replace('MODE = "ok"', 'MODE = "write_frozen"'))  # its runs append to program.md
    git(ws, "commit", "-qam", "a train.py that writes a frozen file")
    with pytest.raises(LoopSetupError, match=r"baseline seed 0: the run modified tracked files: program\.md") as info:
        run_scripted(ws, [], max_experiments=0)
    assert "\n" not in str(info.value)
    base = records(ws)[-1]
    assert (base.status.value, base.cause) == ("invalid", "integrity"), (base.status, base.reason)
