"""False keeps of the keep rules (an A/A test with every seed taking the baseline's place in turn),
and how often a change that truly helps is kept.

    python benchmarks/bench_keep_rule.py --runs DIR [--seeds 24] [--images 1600] [--helpful 8]
                                         [--preset easy] [--n 160] [--judge-only]

Training is the expensive part and is done once: the unchanged train.py is trained through the
real harness with seeds 0..`--seeds`-1 (the A/A runs), and `--helpful` further runs (seeds 100..)
train on twice the images (a change that truly helps). Every run's metrics and per-image counts
stay under `--runs DIR`; a second call with the same DIR trains only what is missing, and
`--judge-only` trains nothing, so the rules can be judged again without retraining. Pairing
needs every run scored on the same validation labels, which is checked: runs stored before the
synthetic validation labels took a workspace's secret differ from later ones, and keep comparable
only when the workspace's `[data] dataset` names the set they were scored on (the one without
`-k` in `ws/.gg/data`).

Judging is offline, over the stored runs. For 1, 2 and 3 baseline seeds, every A/A seed takes the
baseline's place in turn (with the next seeds, cyclically, when the baseline has more than one)
and the other A/A runs are its candidates: the same code, so any keep is a false keep. The rates
are averaged over those baselines, which counts the baseline's own draw (a collapsed baseline seed
makes every candidate look better). Each rule judges a candidate as the loop does (see
`loop.keep`): a marginal win is re-run with the next candidate's run and judged on the mean.
The truly helpful runs are judged against the same rotation of baselines. What a rule costs is
given as the runs of a night of 8 experiments: the baseline's seeds plus each experiment's runs
(a re-run of a marginal win is a second run).

The runs use an images budget (the same work under any load), the template's model at 64 px and
the synthetic data, so the figures are stable on a shared 2-core machine. Prints `key: value` lines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import cpu_workspace  # noqa: E402

INDEX = "runs.json"
HELPFUL_SEED0 = 100
CAP_S = 3600
NIGHT = 8  # experiments in the demo's night: what a rule costs is said in runs of such a night


def train_runs(ws: Path, index: dict, seeds: list[int], tag: str, images: int | None = None) -> None:
    """Train the runs of `seeds` that `index` lacks, recording each in `index` as soon as it ends."""
    from gg_research.config import load_config
    from gg_research.harness.runner import PrestartingRunner
    from gg_research.workspace_map import WorkspaceMap

    todo = [s for s in seeds if f"{tag}{s:03d}" not in index["runs"]]
    if not todo:
        return
    config = load_config(ws / "gg-research.toml")
    if images is not None:
        config.run.budget_images = images
    runner = PrestartingRunner()
    try:
        for seed in todo:
            name = f"{tag}{seed:03d}"
            run_dir = WorkspaceMap(ws).run(name).path
            t0 = time.monotonic()
            res = runner(ws, run_dir, config=config, seed=seed)
            if res.status != "ok":
                raise SystemExit(f"bench_keep_rule: {tag} seed {seed}: {res.status}: {res.error}")
            trained = res.metrics.get("num_images", 0)
            if trained < config.run.budget_images:  # cut by the time cap: not the same work as the others
                raise SystemExit(f"bench_keep_rule: {tag} seed {seed} trained {trained:.0f} of "
                                 f"{config.run.budget_images} images before the {config.run.budget_s:g} s cap")
            index["runs"][name] = {"kind": tag, "seed": seed, "metrics": res.metrics,
                                   "run_dir": str(run_dir.relative_to(ws)), "wall_s": time.monotonic() - t0}
            _save_index(ws.parent, index)
            print(f"  {name}: pbqc {res.metrics['pbqc']:.4f} dice {res.metrics['dice']:.4f} "
                  f"({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    finally:
        runner.close()


def _save_index(root: Path, index: dict) -> None:
    tmp = root / (INDEX + ".tmp")
    tmp.write_text(json.dumps(index, indent=1))
    tmp.replace(root / INDEX)


def prepare(root: Path, args: argparse.Namespace) -> tuple[Path, dict]:
    """The workspace and run index under `root`: made on the first call, reused (same settings) after."""
    path = root / INDEX
    settings = {"images": args.images, "preset": args.preset, "n": args.n}
    if path.is_file():
        index = json.loads(path.read_text())
        if index["settings"] != settings:
            raise SystemExit(f"bench_keep_rule: {path} holds runs made with {index['settings']}, not {settings}")
        return root / "ws", index
    root.mkdir(parents=True, exist_ok=True)
    # The time cap far above a run's length: a busy machine slows the runs, and a run the cap
    # cut short would have done less work than the others.
    ws = cpu_workspace(root, args.images, args.preset, synth_n=str(args.n), budget_s=str(float(CAP_S)))
    index = {"settings": settings, "runs": {}}
    _save_index(root, index)
    return ws, index


# -- judging, offline -------------------------------------------------------------------------------

RULES = ("margin", "paired", "paired-all", "paired-all-2sigma")


@dataclass(frozen=True)
class Run:
    name: str
    metrics: dict[str, float]
    counts: dict[str, np.ndarray]  # per-image TP/FP/FN of each objective (results.paired)


def load_runs(ws: Path, index: dict) -> dict[str, list[Run]]:
    """The stored runs by kind ("aa", "x2"), each scored on the same validation labels as the rest."""
    from gg_research.results.paired import load_counts

    out: dict[str, list[Run]] = {"aa": [], "x2": []}
    first = None
    for name, rec in sorted(index["runs"].items()):
        found = load_counts(ws / rec["run_dir"])
        if found is None:
            raise SystemExit(f"bench_keep_rule: {name} has no per-image counts under {ws / rec['run_dir']}")
        labels = _labels(*found)
        first = first or (name, labels)
        if labels != first[1]:
            raise SystemExit(f"bench_keep_rule: {name} was scored on other validation images or labels than "
                             f"{first[0]} ({ws / rec['run_dir']}): pairing them compares nothing")
        out.setdefault(rec["kind"], []).append(Run(name, rec["metrics"], found[1]))
    return out


def _labels(ids: np.ndarray, counts: dict[str, np.ndarray]) -> tuple:
    """What a run was scored on: its images and, per image, the labelled pixels (TP + FN), which
    no prediction changes. Runs made before the synthetic validation labels took a workspace's
    secret, or in another workspace, differ here under the same image ids."""
    return tuple(ids), tuple((k, tuple(v[:, 0] + v[:, 2])) for k, v in sorted(counts.items()))


class Judge:
    """The loop's verdict on one candidate against a baseline of one or more seeds, for each rule.

    margin: the configured keep rule with noise margins from the baseline's seeds (a marginal win
    is re-run with another run of the same code and judged on the mean); paired: that, then the
    per-image test against the baseline's first seed, as the loop's keep.test = "paired" does;
    paired-all: the margin rule with the smallest margin (min_epsilon), then the per-image test
    against every seed of the baseline, as keep.test = "paired-all" does; paired-all-2sigma: the
    same with the margins from the seeds' spread (what paired-all would be without its own margin).
    """

    def __init__(self, config) -> None:
        self.config = config
        self.names = [o.name for o in config.objectives]
        self._cache: dict[tuple[str, str], dict] = {}

    def intervals(self, cand: Run, ref: Run) -> dict:
        from gg_research.results.paired import paired_interval

        key = (cand.name, ref.name)
        if key not in self._cache:
            self._cache[key] = {n: paired_interval(cand.counts[n], ref.counts[n], n, level=self.config.keep.paired_level)
                                for n in self.names}
        return self._cache[key]

    def margin(self, baseline: list[Run], cand: Run, second: Run, seed_eps: bool = True) -> tuple[bool, int]:
        """(kept by the margin rule, runs it took: 1, or 2 with a re-run of a marginal win).

        The margins come from the baseline's seeds, or with `seed_eps` False are the smallest one
        (min_epsilon): the seeds are then used one by one by the paired test instead.
        """
        from gg_research.loop import keep
        from gg_research.loop.records import mean_metrics
        from gg_research.results.pareto import epsilons, sigmas

        base = mean_metrics([b.metrics for b in baseline])
        sigma = sigmas([b.metrics for b in baseline], self.names) if seed_eps else {}
        eps = epsilons(self.config.objectives, sigma, self.config.keep.min_epsilon)
        metrics = {n: cand.metrics[n] for n in self.names}
        d = keep.decide(self.config, metrics, [base], base, eps)
        if d.status != "rerun":
            return d.status == "keep", 1
        both = mean_metrics([metrics, {n: second.metrics[n] for n in self.names}])
        return keep.decide(self.config, both, [base], base, eps, allow_rerun=False).status == "keep", 2

    def paired(self, refs: list[Run], cand: Run) -> bool:
        from gg_research.loop.keep import paired_verdict

        better, worse = paired_verdict(self.config.objectives, [self.intervals(cand, r) for r in refs])
        return bool(better) and not worse

    def verdict(self, rule: str, baseline: list[Run], cand: Run, second: Run) -> tuple[bool, int]:
        kept, runs = self.margin(baseline, cand, second, seed_eps=rule != "paired-all")
        if not kept or rule == "margin":
            return kept, runs
        return self.paired(baseline[:1] if rule == "paired" else baseline, cand), runs


def rotation(judge: Judge, rule: str, seeds: list[Run], b: int, candidates: list[Run] | None) -> tuple[float, float]:
    """(keep rate, runs per candidate) averaged over baselines: each seed in turn with the next b-1.

    `candidates` None: the A/A case, the other seeds are the candidates; otherwise those runs are.
    """
    rates, runs = [], []
    for i in range(len(seeds)):
        baseline = [seeds[(i + j) % len(seeds)] for j in range(b)]
        cands = [s for s in seeds if s not in baseline] if candidates is None else candidates
        verdicts = [judge.verdict(rule, baseline, c, cands[(k + 1) % len(cands)]) for k, c in enumerate(cands)]
        rates.append(statistics.fmean(v[0] for v in verdicts))
        runs.append(statistics.fmean(v[1] for v in verdicts))
    return statistics.fmean(rates), statistics.fmean(runs)


def collapses(config, runs: list[Run]) -> dict[str, int]:
    """Runs of the unchanged code that broke an objective's floor, against the median run (as the
    report judges a baseline's own seeds)."""
    from gg_research.results.pareto import run_collapses, seed_reference

    reference = seed_reference([r.metrics for r in runs])
    found = [run_collapses(r.metrics, config.objectives, reference) for r in runs]
    return {o.name: sum(o.name in f for f in found) for o in config.objectives}


def report(ws: Path, index: dict, rules: tuple[str, ...] = RULES, level: float | None = None) -> None:
    from gg_research.config import load_config

    config = load_config(ws / "gg-research.toml")
    if level is not None:
        config.keep.paired_level = level
    judge = Judge(config)
    runs = load_runs(ws, index)
    seeds, helpful = runs["aa"], runs["x2"]
    if len(seeds) < 4:
        raise SystemExit(f"bench_keep_rule: {len(seeds)} A/A runs; the rotation needs at least 4")
    s = index["settings"]
    print(f"paired_level: {config.keep.paired_level:g}")
    print(f"runs: {len(seeds)} A/A + {len(helpful)} helpful ({s['images']} images each, x2 for the helpful change, "
          f"preset {s['preset']}, {s['n']} samples, 64 px)")
    for name in judge.names:
        values = [r.metrics[name] for r in seeds]
        print(f"seed_sd_{name}: {statistics.stdev(values):.4f}  (mean {statistics.fmean(values):.4f}, "
              f"min {min(values):.4f}, max {max(values):.4f})")
    for name, count in collapses(config, seeds).items():
        print(f"seed_collapse_{name}: {count} of {len(seeds)}  (below the floor against the median seed)")
    if helpful:
        gain = {n: statistics.fmean(r.metrics[n] for r in helpful) - statistics.fmean(r.metrics[n] for r in seeds)
                for n in judge.names}
        print("helpful_change_gain: " + ", ".join(f"{n} {g:+.4f}" for n, g in gain.items()))
    for b in (1, 2, 3):
        for rule in rules:
            false, runs = rotation(judge, rule, seeds, b, None)
            line = f"{rule}_{b}seed: false_keep {false:.3f}"
            if helpful:
                true, _ = rotation(judge, rule, seeds, b, helpful)
                line += f"  true_keep {true:.3f}"
            print(f"{line}  runs_per_night {b + NIGHT * runs:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, help="folder that keeps the runs (default: a temporary one)")
    parser.add_argument("--seeds", type=int, default=24, help="A/A runs of the unchanged train.py")
    parser.add_argument("--images", type=int, default=1600, help="images budget of a run")
    parser.add_argument("--helpful", type=int, default=8, help="runs of the truly helpful change (0: none)")
    parser.add_argument("--preset", default="easy")
    parser.add_argument("--n", type=int, default=160, help="samples of the synthetic set (realistic wants 400 or more)")
    parser.add_argument("--judge-only", action="store_true", help="train nothing; judge the runs DIR holds")
    parser.add_argument("--paired-level", type=float, help="confidence of the paired interval (default: the config's)")
    args = parser.parse_args()

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-keep-") as tmp:
        root = args.runs or Path(tmp)
        ws, index = prepare(root, args)
        if not args.judge_only:
            # Half the A/A runs, half the helpful ones, then the rest: a run cut short by the clock
            # still has both kinds to judge.
            aa, x2 = list(range(args.seeds)), list(range(HELPFUL_SEED0, HELPFUL_SEED0 + args.helpful))
            a, h = len(aa) // 2, len(x2) // 2
            for seeds, tag in ((aa[:a], "aa"), (x2[:h], "x2"), (aa[a:], "aa"), (x2[h:], "x2")):
                train_runs(ws, index, seeds, tag, images=2 * args.images if tag == "x2" else None)
        report(ws, index, level=args.paired_level)
    print(f"wall_seconds: {time.monotonic() - t0:.0f}")


if __name__ == "__main__":
    main()
