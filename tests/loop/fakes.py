"""A workspace whose `[run] command` is a small script: metrics follow train.py's constants.

The harness supports "any command that writes the metrics JSON"; this one makes keep-rule,
ledger and git tests fast and deterministic.
"""

from __future__ import annotations

import io
import json
import subprocess
import textwrap
from pathlib import Path

from rich.console import Console

from gg_research.results.ledger import Experiment

TRAIN = textwrap.dedent('''\
    """Fake training: the metrics are a function of the constants below."""
    import os

    QA = 1.0  # search: float(0.0, 3.0)
    QB = 1.0  # search: float(0.0, 3.0)
    WIDTH = 8  # search: int(4, 32)
    ACT = "relu"  # search: choice("relu", "gelu")
    LR = 1e-3  # search: log(1e-5, 1e-1)
    MODE = "ok"
    SPREAD = 0.0  # how much the per-image counts scatter around the run's mean
    COLLAPSE_SEED = -1  # the seed whose run finds no defect (a bistable target's bad draw)
    SHIFT = 0  # draws from the random stream before training: the seed the run behaves as
    CURVE = "none"  # the loss curve it prints as it "trains": none, falling (cut short) or early (levels off early)


    def train(seed):
        if MODE == "crash":
            raise RuntimeError("boom in train")
        if MODE == "hang":
            import time
            time.sleep(600)
        if MODE == "write_frozen":
            open("program.md", "a").write("tampered\\n")
        seed += SHIFT
        noise = ((seed * 7) % 3 - 1) * 0.001
        pbqc = 0.5 + 0.1 * QA + noise
        dice = 0.4 + 0.1 * QB - noise if seed != COLLAPSE_SEED else 0.05
        if MODE == "nan":
            pbqc = float("nan")
        speed, share = 100.0 / (1 + WIDTH / 64), 0.95
        if MODE == "busy" and not os.environ["GG_RUN_DIR"].endswith("rerun-load"):
            speed, share = speed / 4, 0.3  # what a run sharing its CPUs with other work measures
        per_image(pbqc, dice)
        curve()
        return {"pbqc": pbqc, "dice": dice, "img_per_sec": speed, "cpu_share": share, "peak_memory_mb": 10.0 * WIDTH}


    def curve():
        """Curve points in the harness's documented line format, as any [run] command may print them."""
        import math
        for step in range(1, 201):
            x = step / 200
            loss = {"falling": math.exp(-x), "early": 0.5 + 0.5 * math.exp(-20 * x)}.get(CURVE)
            if loss is None:
                return
            print(f"[curve] step {step} images {4 * step} loss={loss:.5g} lr=0.001")


    def per_image(pbqc, dice):
        """Per-image TP/FP/FN on 24 images, as the harness's scorer writes them."""
        import math
        import numpy as np
        i = np.arange(24)
        def counts(v):
            tp = np.maximum(60 * v + SPREAD * np.sin(i * (7.3 * QB + 1.1)), 0)
            return np.stack([tp, np.full(24, 30 * (1 - v)), np.full(24, 30 * (1 - v))], axis=1)
        if math.isfinite(pbqc):
            np.savez(os.path.join(os.environ["GG_RUN_DIR"], "per_image.npz"), ids=np.array([f"s{k}" for k in i]),
                     pbqc_counts=counts(pbqc), dice_counts=counts(dice))
    ''')

RUN = textwrap.dedent('''\
    import json, os, pathlib, runpy, sys
    out = pathlib.Path(os.environ["GG_RUN_DIR"])
    (out / "pid").write_text(str(os.getpid()))
    ns = runpy.run_path("train.py")
    m = ns["train"](int(os.environ["GG_SEED"]))
    print("---")
    for k, v in m.items():
        print(f"{k}: {v}")
    (out / "last_run.json").write_text(json.dumps(m))
    ''')

TOML = textwrap.dedent('''\
    [run]
    command = "{python} fake_run.py"
    budget_s = 1.0
    hard_limit_s = {hard}
    {run_extra}

    [keep]
    baseline_seeds = 2
    {keep_extra}

    [proposer]
    max_refusals = 0

    [[objectives]]
    name = "pbqc"
    direction = "maximize"
    relative_floor = 0.8

    [[objectives]]
    name = "dice"
    direction = "maximize"
    relative_floor = 0.8
    ''')


def git(ws: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(ws), *args], check=True, capture_output=True, text=True).stdout


def make_workspace(path: Path, *, hard: float = 3.0, keep_extra: str = "", run_extra: str = "") -> Path:
    import sys

    path.mkdir(parents=True, exist_ok=True)
    (path / "train.py").write_text(TRAIN)
    (path / "fake_run.py").write_text(RUN)
    (path / "program.md").write_text("# Brief\nRaise PBQC and Dice together.\n")
    (path / "gg-research.toml").write_text(TOML.format(python=sys.executable, hard=hard, keep_extra=keep_extra, run_extra=run_extra))
    (path / ".gitignore").write_text(".gg/\nresults/\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.invalid")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "workspace")
    return path


def edit(title: str, search: str, replace: str, path: str = "train.py", **extra) -> dict:
    return {"title": title, "rationale": "test", "edits": [{"path": path, "search": search, "replace": replace}], **extra}


def write_script(ws: Path, hyps: list[dict], name: str = "hyps.jsonl") -> Path:
    p = ws.parent / f"{ws.name}-{name}"
    p.write_text("".join(json.dumps(h) + "\n" for h in hyps))
    return p


def run_scripted(ws: Path, hyps: list[dict], tag: str = "t", **opts):
    """Run the engine in-process on a script; returns (engine, exit code, printed text)."""
    from gg_research.commands.overrides import with_flags
    from gg_research.config import load_config
    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.loop.proposers.select import proposer_factory
    from gg_research.loop.ui import LoopUI

    script = write_script(ws, hyps, name=f"{tag}.jsonl")
    buf = io.StringIO()
    ui = LoopUI(Console(file=buf, width=200))
    flags = {k: opts.pop(k) for k in ("budget_s", "baseline_seeds") if k in opts}
    cfg = with_flags(load_config(ws / "gg-research.toml"), **flags)
    engine = LoopEngine(ws, cfg, Options(**{"tag": tag, "write_report": False, **opts}),
                        proposer_factory("scripted", str(script), say=ui.say), ui=ui)
    code = engine.run()
    return engine, code, buf.getvalue()


def records(ws: Path) -> list[Experiment]:
    from gg_research.results.ledger import LedgerFile

    return LedgerFile(ws).read().experiments


def tsv_rows(ws: Path) -> list[list[str]]:
    lines = (ws / "results" / "results.tsv").read_text().splitlines()
    return [ln.split("\t") for ln in lines]
