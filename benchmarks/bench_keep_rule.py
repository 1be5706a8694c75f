"""False keeps of the keep rule (an A/A test), and how often a change that truly helps is kept.

    python benchmarks/bench_keep_rule.py [--candidates 20] [--images 400] [--helpful 8] [--preset easy] [--n 160]

The unchanged train.py is trained, through the real harness, with seeds 0..2 (the baseline, used
with 1, 2 and 3 of them) and with `--candidates` further seeds (the candidates: the same code, so
any keep is a false keep). Each candidate is judged as the loop judges it: the margin rule (the
configured keep rule with noise margins from the baseline's seeds; a marginal win is re-run with
the next candidate's run and judged on the mean) and the paired rule (that, then its per-image
counts against the baseline's first seed on the same validation images). A truly helpful change,
`--helpful` runs that train on twice the images, gives the keep rate of a real effect.

The runs use an images budget (the same work under any load), the template's model at 64 px and
the synthetic data, so the figures are stable on a shared 2-core machine (a tiny model learns no
Dice at all in a CPU-sized budget, and a keep rule is only tested where there is noise to fool
it). About 30 s a run on 2 cores. Prints `key: value` lines.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import cpu_workspace  # noqa: E402


def train_runs(ws: Path, seeds: list[int], tag: str, images: int | None = None) -> list[tuple[dict, Path]]:
    from gg_research.config import load_config
    from gg_research.harness.runner import PrestartingRunner

    config = load_config(ws / "gg-research.toml")
    if images is not None:
        config.run.budget_images = images
    runner, out = PrestartingRunner(), []
    try:
        for seed in seeds:
            run_dir = ws / "results" / "runs" / f"{tag}{seed:03d}"
            res = runner(ws, run_dir, config=config, seed=seed)
            if res.status != "ok":
                raise SystemExit(f"bench_keep_rule: {tag} seed {seed}: {res.status}: {res.error}")
            out.append((res.metrics, run_dir))
            print(f"  {tag} seed {seed}: pbqc {res.metrics['pbqc']:.4f} dice {res.metrics['dice']:.4f}", file=sys.stderr)
    finally:
        runner.close()
    return out


def keep_rates(config, baseline: list[tuple[dict, Path]], candidates: list[tuple[dict, Path]]) -> tuple[float, float]:
    """(margin rule, paired rule) fraction of candidates kept against this baseline."""
    from gg_research.loop import keep
    from gg_research.loop.records import mean_metrics
    from gg_research.results.paired import compare_runs
    from gg_research.results.pareto import epsilons, sigmas

    names = [o.name for o in config.objectives]
    base = mean_metrics([m for m, _ in baseline])
    eps = epsilons(config.objectives, sigmas([m for m, _ in baseline], names), config.keep.min_epsilon)
    margin = paired = 0
    for i, (metrics, run_dir) in enumerate(candidates):
        d = keep.decide(config, {n: metrics[n] for n in names}, [base], base, eps)
        if d.status == "rerun":  # judged on the mean with a second run of the same code
            second = candidates[(i + 1) % len(candidates)][0]
            d = keep.decide(config, mean_metrics([{n: metrics[n] for n in names}, {n: second[n] for n in names}]),
                            [base], base, eps, allow_rerun=False)
        if d.status != "keep":
            continue
        margin += 1
        found = compare_runs(run_dir, baseline[0][1], names, level=config.keep.paired_level)
        if any(iv.sure_better for iv in found.values()) and not any(iv.sure_worse for iv in found.values()):
            paired += 1
    return margin / len(candidates), paired / len(candidates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--images", type=int, default=1000, help="images budget of a run")
    parser.add_argument("--helpful", type=int, default=8, help="runs of the truly helpful change (0: skip)")
    parser.add_argument("--preset", default="easy")
    parser.add_argument("--n", type=int, default=160, help="samples of the synthetic set (realistic wants 400 or more)")
    args = parser.parse_args()
    from gg_research.config import load_config

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-keep-") as tmp:
        ws = cpu_workspace(Path(tmp), args.images, args.preset, synth_n=str(args.n))
        config = load_config(ws / "gg-research.toml")
        baseline = train_runs(ws, [0, 1, 2], "base")
        candidates = train_runs(ws, list(range(3, 3 + args.candidates)), "aa")
        helpful = train_runs(ws, list(range(3, 3 + args.helpful)), "x2", images=2 * args.images) if args.helpful else []
        print(f"runs: {3 + len(candidates) + len(helpful)} ({args.images} images each, x2 for the helpful change, "
              f"preset {args.preset}, {args.n} samples, 64 px)")
        for name in ("pbqc", "dice"):
            values = [m[name] for m, _ in baseline + candidates]
            print(f"seed_sd_{name}: {statistics.stdev(values):.4f}  (mean {statistics.fmean(values):.4f})")
        for b in (1, 2, 3):
            margin, paired = keep_rates(config, baseline[:b], candidates)
            print(f"false_keep_margin_{b}seed: {margin:.2f}")
            print(f"false_keep_paired_{b}seed: {paired:.2f}")
            if helpful:
                margin, paired = keep_rates(config, baseline[:b], helpful)
                print(f"true_keep_margin_{b}seed: {margin:.2f}")
                print(f"true_keep_paired_{b}seed: {paired:.2f}")
        if helpful:
            gain = {n: statistics.fmean(m[n] for m, _ in helpful) - statistics.fmean(m[n] for m, _ in baseline + candidates)
                    for n in ("pbqc", "dice")}
            print(f"helpful_change_gain: pbqc {gain['pbqc']:+.4f}, dice {gain['dice']:+.4f}")
    print(f"wall_seconds: {time.monotonic() - t0:.0f}")


if __name__ == "__main__":
    main()
