"""The loop on the real harness (subprocess, budget clock, evaluation) with a tiny train.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from tests.loop.fakes import edit, git, records, tsv_rows, write_script
from tests.loop.tiny_harness import dataset, make_real_workspace


@pytest.mark.slow
def test_real_harness_nan_crash_hang_and_improve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.config import load_config
    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.harness.summary import SUMMARY_KEYS
    from gg_research.loop.prompt import first_request
    from gg_research.loop.proposers.select import proposer_factory
    from gg_research.loop.ui import LoopUI

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    ws = make_real_workspace(tmp_path / "ws", dataset(tmp_path / "cache"), hard_limit_s=45.0)
    script = write_script(ws, [
        edit("NaN loss", 'MODE = "ok"', 'MODE = "nan"'),
        edit("raise", 'MODE = "ok"', 'MODE = "crash"'),
        edit("hang", 'MODE = "ok"', 'MODE = "hang"'),
        edit("predict every pixel as a defect", "PREDICT_ALL = False", "PREDICT_ALL = True"),
    ])
    buf = io.StringIO()
    ui = LoopUI(Console(file=buf, width=200))
    eng = LoopEngine(ws, load_config(ws / "gg-research.toml"), Options(tag="h", write_report=False),
                     proposer_factory("scripted", str(script), say=ui.say), ui=ui)
    assert eng.run() == 0
    recs = records(ws)
    assert [r.status for r in recs] == ["baseline", "crash", "crash", "invalid", "keep"], buf.getvalue()
    base, nan, boom, hang, keep = recs
    assert base.metrics["dice"] == 0.0 and 0.0 < base.metrics["pbqc"] <= 1.0
    # The frozen inputs, and the code that judges (each file of it named with its hash).
    assert base.frozen and set(base.frozen) == {"val_split", "harness_code", "eval_config", "judge_code", "judge_files"}
    assert "loop/keep.py:" in base.frozen["judge_files"]
    assert "NaN loss" in nan.reason
    assert "boom from train.py" in boom.reason
    # A hung train.py is still training when its budget (plus grace) is spent: the parent stops it.
    assert hang.reason.startswith("trained past its budget"), hang.reason
    assert hang.seeds[0].wall_seconds < 45.0  # well before the hard limit
    assert keep.metrics["dice"] > 0.0 and keep.metrics["pbqc"] == pytest.approx(base.metrics["pbqc"])
    for r in recs[1:]:
        assert (ws / r.diff).read_text().startswith("diff --git a/train.py b/train.py")
        assert (ws / r.log).is_file()
    log = (ws / keep.log).read_text().rstrip().splitlines()
    assert log[-1].startswith("seed: ") and "---" in log[-len(SUMMARY_KEYS) - 1:]  # the block ends the log
    assert git(ws, "rev-parse", "HEAD").strip() == keep.commit
    assert sorted(git(ws, "tag", "--list", "gg/h/*").split()) == ["gg/h/e0001", "gg/h/e0005"]
    assert "PREDICT_ALL = True" in (ws / "train.py").read_text() and 'MODE = "ok"' in (ws / "train.py").read_text()
    assert [row[6] for row in tsv_rows(ws)[1:]] == ["baseline", "crash", "crash", "invalid", "keep"]
    assert float(tsv_rows(ws)[-1][3]) > 0

    # The trained weights stay for the baseline and the kept run only; every scored run leaves its
    # per-image evidence and its sealed test-split scores.
    assert [(ws / r.seeds[0].run_dir / "model.pt").is_file() for r in recs] == [True, False, False, False, True]
    for r in (base, keep):
        assert (ws / r.seeds[0].run_dir / "per_image.npz").is_file()
    test = json.loads((ws / keep.seeds[0].run_dir / "test_scores.json").read_text())
    assert test["images"] > 0 and 0.0 < test["dice"] <= 1.0 and test["dice"] != keep.metrics["dice"]
    # The test split never reaches what the loop reads: the ledger, the proposer's state, the prompt.
    ledger = (ws / "results" / "experiments.jsonl").read_text()
    assert "test" not in json.dumps([r.metrics | r.aux for r in recs]) and f"{test['dice']:.4f}" not in ledger
    request = first_request(eng.session.state([]), eng.session.cfg)
    assert f"{test['dice']:.4f}" not in json.dumps(request) and f"{keep.metrics['dice']:.4f}" in json.dumps(request)
