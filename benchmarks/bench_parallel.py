"""Experiments per hour with 1 and with N workers, and the loop's overhead per experiment on Ray.

The same night twice on a fresh workspace each (the template train.py at 64 px, the Optuna
proposer, one baseline seed, a time budget per run): once with the serial loop, once with
`--workers N` on a Ray started by the loop. Timed from the first experiment's start line to the
last one's end line in the ledger, so the baseline and Ray's own start-up are apart (printed).

Overhead per experiment = the time a worker slot spends on it beyond the training budget
(span x workers / experiments - budget): child start-up, evaluation, proposing, committing,
the worktree, and Ray's scheduling. The serial loop prestarts the next child while a run
trains; a worker cannot (each experiment has its own worktree), so its start-up is on the path.

    python benchmarks/bench_parallel.py [--budget 20] [--experiments 6] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def night(root: Path, workers: int, budget: float, experiments: int) -> dict[str, float | str]:
    from rich.console import Console

    from gg_research.config import load_config
    from gg_research.harness.data import dataset_root
    from gg_research.commands.overrides import with_flags
    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.loop.proposers.select import proposer_factory
    from gg_research.loop.ui import LoopUI
    from gg_research.results.ledger import LedgerFile
    from gg_research.workspace import init_workspace

    from common import set_key

    ws = init_workspace(root / f"ws{workers}")
    toml = ws / "gg-research.toml"
    text = toml.read_text()
    for key, value in {"image_size": "64", "synth_size": "64", "synth_n": "120", "device": '"cpu"',
                       "baseline_seeds": "1", "rerun_marginal": "false"}.items():
        text = set_key(text, key, value)
    toml.write_text(text)
    subprocess.run(["git", "-C", str(ws), "commit", "-qam", "bench settings"], check=True)
    cfg = with_flags(load_config(toml), workers=workers, budget_s=budget)
    dataset_root(ws, cfg)  # generated once, before anything is timed
    options = Options(tag="bench", max_experiments=experiments, write_report=False)
    buf = io.StringIO()
    if workers > 1:
        from gg_research.loop.parallel import ParallelEngine, ParallelUI

        ui: LoopUI = ParallelUI(Console(file=buf, width=200))
        eng: LoopEngine | ParallelEngine = ParallelEngine(ws, cfg, options, proposer_factory("optuna", say=ui.say), workers=workers, ui=ui)
    else:
        ui = LoopUI(Console(file=buf, width=200))
        eng = LoopEngine(ws, cfg, options, proposer_factory("optuna", say=ui.say), ui=ui)
    t0 = time.monotonic()
    eng.run()
    total = time.monotonic() - t0
    recs = [e for e in LedgerFile(ws, ["pbqc", "dice"]).read().experiments if e.tag == "bench"]
    base, rest = recs[0], recs[1:]
    start = min(e.started_at for e in rest if e.started_at)
    end = max(e.ended_at for e in rest if e.ended_at)
    span = (end - start).total_seconds()
    base_s = ((base.ended_at - base.started_at).total_seconds() if base.ended_at and base.started_at else float("nan"))
    return {
        "experiments": len(rest),
        "statuses": ",".join(e.status.value for e in rest),
        "span_s": span,
        "per_hour": 3600 * len(rest) / span,
        "overhead_s": span * workers / len(rest) - budget,
        "baseline_s": base_s,
        "before_first_s": total - span - base_s,  # the loop's start: Ray, the proposer, the branch
        "total_s": total,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=20.0)
    ap.add_argument("--experiments", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-parallel-"))
    print(f"budget_s: {args.budget:g}")
    rows = {}
    for workers in (1, args.workers):
        rows[workers] = r = night(root, workers, args.budget, args.experiments)
        for key, value in r.items():
            print(f"workers_{workers}_{key}: {value:.1f}" if isinstance(value, float) else f"workers_{workers}_{key}: {value}")
    print(f"speedup: {rows[args.workers]['per_hour'] / rows[1]['per_hour']:.2f}")
    print(f"workspaces: {root}")


if __name__ == "__main__":
    main()
