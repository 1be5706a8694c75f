"""What the sandbox costs a run: the same tiny experiment boxed by bubblewrap and not.

Prints, for each mode, the median over repeats of the child's start-up (process start to its
ready line: imports and the data view), the run's wall time beyond its training budget, and the
child's peak memory. Usage: python benchmarks/bench_isolation.py [--repeats 3] [--budget 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=2.0)
    args = ap.parse_args()

    from gg_research.config import load_config
    from gg_research.harness.data import dataset_root
    from gg_research.harness.runner import run_experiment
    from gg_research.harness.sandbox import bwrap_works
    from gg_research.harness.scorer import data_state, trainer_view
    from gg_research.harness.warm import HarnessChild
    from tests.harness.standin import make_workspace, synthetic_dataset

    tmp = Path(tempfile.mkdtemp(prefix="bench-iso-"))
    data = synthetic_dataset(tmp / "data")
    print(f"bubblewrap: {'available' if bwrap_works() is None else bwrap_works()}")
    for mode in ("bwrap", "off"):
        ws = make_workspace(tmp / mode, data, budget_s=args.budget, extra_run=f'sandbox = "{mode}"')
        config = load_config(ws / "gg-research.toml")
        root = dataset_root(ws, config)
        view = trainer_view(ws, config, root, data_state(root))
        starts, overheads, memory = [], [], []
        for i in range(args.repeats):
            t0 = time.monotonic()
            child = HarnessChild(ws, config, view.dir, root)
            child.child.wait_ready(300)
            starts.append(time.monotonic() - t0)
            child.close()
            res = run_experiment(ws, tmp / f"{mode}-run{i}", hard_limit_s=600)
            assert res.status == "ok", res.error
            overheads.append(res.wall_seconds - args.budget)
            memory.append(res.metrics["peak_memory_mb"])
        print(f"{mode}_child_startup_s: {statistics.median(starts):.2f}")
        print(f"{mode}_run_overhead_s: {statistics.median(overheads):.2f}")
        print(f"{mode}_child_peak_memory_mb: {statistics.median(memory):.0f}")


if __name__ == "__main__":
    main()
