"""Loop overhead per experiment with the offline (Optuna) proposer on the real harness.

Overhead = iteration wall time - training budget, split into proposal, apply/commit,
start-up (child process, imports, data load), evaluation, decision and the rest (git reset,
state, ledger). The target: under 5 % of the budget.

`between_runs_s`: from the end of one run's training (its child gone, predictions written) to
the go line of the next run, by the parent's clock: the box, scoring, the decision, the next
proposal and commit, and the start of the next child (started ahead while the previous trained).
The target: at most 1.5 s.

    python benchmarks/bench_loop.py [--budget 20] [--size 64] [--experiments 3] [--device auto]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=20.0)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--samples", type=int, default=120)
    ap.add_argument("--experiments", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--keep", help="folder for the workspace (default: a temp folder)")
    args = ap.parse_args()

    from rich.console import Console

    from gg_research.config import load_config
    from gg_research.workspace import init_workspace
    from gg_research.commands.overrides import with_flags
    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.loop.proposers.select import proposer_factory
    from gg_research.loop.ui import LoopUI

    root = Path(args.keep or tempfile.mkdtemp(prefix="bench-loop-"))
    ws = init_workspace(root / "ws")
    toml = ws / "gg-research.toml"
    text = toml.read_text()
    for old, new in [("image_size = 128", f"image_size = {args.size}"), ("synth_size = 128", f"synth_size = {args.size}"),
                     ("synth_n = 400", f"synth_n = {args.samples}"), ('device = "auto"', f'device = "{args.device}"'),
                     ("baseline_seeds = 3", "baseline_seeds = 1"), ("rerun_marginal = true", "rerun_marginal = false")]:
        assert old in text, old
        text = text.replace(old, new, 1)
    toml.write_text(text)
    import subprocess

    subprocess.run(["git", "-C", str(ws), "commit", "-qam", "bench settings"], check=True)
    cfg = load_config(toml)
    # The synthetic set is generated on first use; do it before timing anything.
    from gg_research.harness.data import dataset_root

    t = time.monotonic()
    dataset_root(ws, cfg)
    prep = time.monotonic() - t

    from gg_research.harness import runner as harness_runner

    spans: list[tuple[float, float]] = []  # (go, end of training) of each run, in order
    train = harness_runner._Run._train

    def timed_train(self, *a, **kw):
        try:
            return train(self, *a, **kw)
        finally:
            if hasattr(self, "t_go"):
                spans.append((self.t_go, getattr(self, "t_end", time.monotonic())))

    harness_runner._Run._train = timed_train
    scored: list[float] = []  # when each run's result was ready (scored, summary written)
    harness = harness_runner._Run.harness

    def timed_harness(self, *a, **kw):
        try:
            return harness(self, *a, **kw)
        finally:
            scored.append(time.monotonic())

    harness_runner._Run.harness = timed_harness

    buf = io.StringIO()
    ui = LoopUI(Console(file=buf, width=200))
    eng = LoopEngine(ws, with_flags(cfg, budget_s=args.budget), Options(tag="bench", max_experiments=args.experiments,
                                                                          write_report=False),
                     proposer_factory("optuna", say=ui.say), ui=ui)
    t = time.monotonic()
    eng.run()
    total = time.monotonic() - t

    rows = []
    for tm in eng.timings:
        wall = tm.extra.get("total", 0.0)
        train = tm.extra.get("training_seconds", args.budget)
        ev = tm.extra.get("eval_seconds", 0.0)
        run_wall = tm.extra.get("wall", tm.run)
        startup = max(run_wall - train - ev, 0.0)
        rest = max(wall - tm.proposal - tm.apply_commit - tm.run - tm.decision, 0.0)
        rows.append(dict(iteration=wall, overhead=wall - args.budget, proposal=tm.proposal, apply_commit=tm.apply_commit,
                         startup=startup, evaluation=ev, decision=tm.decision, rest=rest, training=train))
    import torch

    statuses = [r.status.value for r in eng.session.records()]
    print(f"device: {'cuda' if args.device != 'cpu' and torch.cuda.is_available() else 'cpu'}")
    print(f"budget_s: {args.budget:g}")
    print(f"image_size: {args.size}")
    print(f"experiments_timed: {len(rows)}")
    print(f"statuses: {','.join(statuses)}")
    print(f"dataset_prep_s: {prep:.2f}")
    print(f"loop_total_s: {total:.1f}")
    for key in ("iteration", "training", "overhead", "proposal", "apply_commit", "startup", "evaluation", "decision", "rest"):
        vals = [r[key] for r in rows] or [float("nan")]
        print(f"{key}_s_mean: {statistics.fmean(vals):.3f}")
    over = statistics.fmean([r["overhead"] for r in rows]) if rows else float("nan")
    print(f"overhead_pct_of_budget: {100 * over / args.budget:.1f}")
    loop_own = statistics.fmean([r["proposal"] + r["apply_commit"] + r["decision"] + r["rest"] for r in rows]) if rows else float("nan")
    print(f"loop_own_overhead_pct_of_budget: {100 * loop_own / args.budget:.2f}")
    gaps = [nxt[0] - prev[1] for prev, nxt in zip(spans, spans[1:])]
    if gaps:
        print(f"between_runs_s_mean: {statistics.fmean(gaps):.3f}")
        print(f"between_runs_s_max: {max(gaps):.3f}")
        print(f"between_runs_s_each: {' '.join(f'{g:.2f}' for g in gaps)}")
        # Of which: the parent scoring the run after its child exited, then the loop to the next go.
        if len(scored) == len(spans):
            print(f"  scoring_s_mean: {statistics.fmean(sc - end for (_, end), sc in zip(spans, scored)):.3f}")
            print(f"  scoring_s_each: {' '.join(f'{sc - end:.2f}' for (_, end), sc in zip(spans, scored))}")
            print(f"  loop_to_next_go_s_mean: {statistics.fmean(nxt[0] - sc for sc, nxt in zip(scored, spans[1:])):.3f}")
    print(f"workspace: {ws}")


if __name__ == "__main__":
    main()
