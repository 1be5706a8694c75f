"""The proposer benchmark: hypervolume gain over the baseline after each experiment, per proposer.

    python benchmarks/bench_research.py [--replicates 3] [--experiments 12] [--images 1600]
        [--proposers random,tpe[,claude,claude-nokb]] [--preset easy] [--n 160] [--keep-test paired] [--plot research.png]
        [--first-replicate 0] [--keep DIR]

Each replicate of each proposer is a night of its own (a new tag, so a new baseline and a new
sampler seed) on one workspace: 64 px, the template's model, the synthetic data, an images budget
(the same work under any load), one baseline seed and (by default) the paired keep test. `random`
is random search over the declared search space (the yardstick), `tpe` Optuna's multi-objective
TPE, `claude` the Claude proposer (needs ANTHROPIC_API_KEY) with the knowledge base of the sample
notes, `claude-nokb` without it. After each experiment the hypervolume gain of the kept runs over
the baseline is read back from the ledger through the report's own analysis, twice: with the
baseline as the reference (the report's default, where only a run better on every objective
counts) and with the collapse floors (each objective's relative_floor x the baseline) as the
reference, where a trade-off counts too. Prints `key: value` lines (mean and standard deviation
over replicates after each experiment) and draws the curves.
Cost: replicates x proposers x (experiments + 1) runs of about 40 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import cpu_workspace  # noqa: E402


def night(ws: Path, start: str, proposer: str, tag: str, experiments: int) -> tuple[list[float], list[float]]:
    """Hypervolume gain over the baseline after each experiment of one night: with the baseline as the
    reference (the report's default: only runs better on every objective count) and with the
    collapse floors as the reference (a trade-off with the baseline counts too)."""
    from rich.console import Console

    from gg_research.config import load_config
    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.loop.proposers.select import proposer_factory
    from gg_research.loop.ui import LoopUI
    from gg_research.results.analysis import analyse
    from gg_research.results.ledger import LedgerFile

    subprocess.run(["git", "-C", str(ws), "checkout", "-q", start], check=True)  # every night from the same start
    cfg = load_config(ws / "gg-research.toml")
    kind = "optuna" if proposer in ("random", "tpe") else "claude"
    cfg.proposer.sampler = "random" if proposer == "random" else "tpe"
    if proposer == "claude-nokb":
        cfg.proposer.search_calls = 0
        cfg.proposer.context_tokens = 100
    ui = LoopUI(Console(file=io.StringIO()))
    engine = LoopEngine(ws, cfg, Options(tag=tag, max_experiments=experiments, write_report=False),
                        proposer_factory(kind, say=ui.say), ui=ui)
    if engine.run() != 0:
        raise SystemExit(f"bench_research: the {tag} night failed")
    ledger = LedgerFile(ws).read()
    ledger.experiments = [e for e in ledger.experiments if e.tag == tag]
    an = analyse(ledger, cfg, ws, tag)
    if an.reference is None:
        raise SystemExit(f"bench_research: the {tag} night has no baseline")
    for o in cfg.objectives:
        o.reference = (o.relative_floor or 0.0) * an.reference[o.name]
    floors = analyse(ledger, cfg, ws, tag)
    return _gains(an), _gains(floors)


def _gains(an) -> list[float]:
    base = an.baseline_hypervolume or 0.0
    return [(p.hypervolume or 0.0) - base for p in an.progress[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument("--experiments", type=int, default=12)
    parser.add_argument("--images", type=int, default=1600, help="images budget of a run")
    parser.add_argument("--proposers", default="random,tpe")
    parser.add_argument("--preset", default="easy")
    parser.add_argument("--n", type=int, default=160, help="samples of the synthetic set (realistic wants 400 or more)")
    parser.add_argument("--keep-test", choices=["paired", "margin"], default="paired",
                        help="keep rule of the nights (default paired: with one baseline seed the margin rule keeps "
                             "about one unchanged train.py in three, and the curves would measure seed luck)")
    parser.add_argument("--plot", type=Path, default=Path("research.png"))
    parser.add_argument("--first-replicate", type=int, default=0, metavar="K",
                        help="number the nights from K (tags <proposer>-K, ...): a new sampler seed, to add nights to an earlier run")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="build the workspace in DIR (must not exist) and leave it there, ledger and branches, to read afterwards")
    args = parser.parse_args()
    if args.keep is not None and args.keep.exists():
        raise SystemExit(f"bench_research: {args.keep} already exists; --keep wants a new folder")
    proposers = [p for p in args.proposers.split(",") if p]
    if any(p.startswith("claude") for p in proposers) and not os.environ.get("ANTHROPIC_API_KEY"):
        raise SystemExit("bench_research: the claude proposers need ANTHROPIC_API_KEY")

    t0 = time.monotonic()
    curves: dict[str, list[list[float]]] = {p: [] for p in proposers}
    floor_curves: dict[str, list[list[float]]] = {p: [] for p in proposers}
    with contextlib.ExitStack() as stack:
        if args.keep is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-research-")))
        else:
            args.keep.mkdir(parents=True)
            tmp = args.keep
        ws = cpu_workspace(tmp, args.images, args.preset, synth_n=str(args.n), baseline_seeds="1", rerun_marginal="false",
                           test=f'"{args.keep_test}"')
        if args.keep is not None:
            print(f"workspace: {ws}", file=sys.stderr, flush=True)
        if any(p == "claude" for p in proposers):
            subprocess.run([sys.executable, "-m", "gg_research.cli", "ingest", str(ROOT / "gg_research" / "data" / "gg-net-notes.md")],
                           cwd=ws, check=True, capture_output=True)
        start = subprocess.run(["git", "-C", str(ws), "rev-parse", "--abbrev-ref", "HEAD"],
                               check=True, capture_output=True, text=True).stdout.strip()
        for r in range(args.first_replicate, args.first_replicate + args.replicates):
            for p in proposers:
                curve, floor_curve = night(ws, start, p, f"{p}-{r}", args.experiments)
                curves[p].append(curve)
                floor_curves[p].append(floor_curve)
                print(f"  {p} replicate {r}: " + " ".join(f"{v:.4f}" for v in curve)
                      + " | floors: " + " ".join(f"{v:.4f}" for v in floor_curve), file=sys.stderr, flush=True)
    print(f"nights: {args.replicates} per proposer x {args.experiments} experiments ({args.images} images a run, "
          f"preset {args.preset}, {args.n} samples, 64 px, 1 baseline seed, keep test {args.keep_test})")
    for label, table in (("hv_gain", curves), ("floor_hv_gain", floor_curves)):
        for p, runs in table.items():
            n = min(len(c) for c in runs)
            for k in range(n):
                values = [c[k] for c in runs]
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                print(f"{p}_{label}_after_{k + 1}: {statistics.fmean(values):.5f} (sd {sd:.5f})")
    _plot(curves, floor_curves, args.plot)
    print(f"plot: {args.plot}")
    print(f"wall_seconds: {time.monotonic() - t0:.0f}")


def _plot(curves: dict[str, list[list[float]]], floor_curves: dict[str, list[list[float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, table, what in ((axes[0], curves, "reference: the baseline"), (axes[1], floor_curves, "reference: the collapse floors")):
        for p, runs in table.items():
            n = min(len(c) for c in runs)
            data = np.array([c[:n] for c in runs])
            x = np.arange(1, n + 1)
            mean, sd = data.mean(axis=0), data.std(axis=0)
            ax.plot(x, mean, marker="o", label=f"{p} (n={len(runs)})")
            ax.fill_between(x, mean - sd, mean + sd, alpha=0.2)
        ax.set_xlabel("experiment")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("hypervolume gain over the baseline")
        ax.set_title(f"mean ± sd over nights; {what}", fontsize=10)
        ax.legend()
    fig.suptitle("Proposers on the same target")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
