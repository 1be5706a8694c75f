"""Headroom of each synthetic preset: the baseline train.py through the real harness, per preset,
at a short budget and at several times that budget.

    python benchmarks/bench_presets.py [--presets easy,realistic,hard] [--budgets 60,240] [--size 64]

For each preset a workspace is made with `gg-research init`, its config set to the preset, the
image size and the CPU, and `gg-research run --budget B` runs the unchanged baseline once per
budget (seed 0). The longer runs estimate what is attainable: a preset has headroom where the
short run is clearly below them. Prints `key: value` lines, e.g. `realistic_60s_dice: 0.41`.
CPU cost: the sum of the budgets per preset, plus data generation and start-up/evaluation.
Runs use one OpenMP thread unless OMP_NUM_THREADS is set: on a shared machine, several
processes spinning two threads each slowed training down 20x in our first attempt.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "gg_research.cli"]


def _workspace(parent: Path, preset: str, size: int, synth_size: int, n: int) -> Path:
    ws = parent / preset
    subprocess.run([*CLI, "init", str(ws)], check=True, capture_output=True, text=True)
    toml = (ws / "gg-research.toml").read_text()
    values = {"image_size": str(size), "synth_size": str(synth_size), "synth_n": str(n),
              "synth_preset": f'"{preset}"', "device": '"cpu"'}
    for key, value in values.items():
        toml, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", toml, count=1, flags=re.M)
        if count != 1:
            raise SystemExit(f"bench_presets: no '{key}' in the config that init wrote")
    (ws / "gg-research.toml").write_text(toml)
    return ws


def _run(ws: Path, budget: float, seed: int) -> dict:
    before = set((ws / "results" / "runs").glob("r*")) if (ws / "results" / "runs").is_dir() else set()
    proc = subprocess.run([*CLI, "run", "--budget", f"{budget:g}", "--seed", str(seed), "--quiet"], cwd=ws,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    if proc.returncode != 0:
        raise SystemExit(f"bench_presets: run failed in {ws}: {proc.stderr.strip()[-500:]}")
    (new,) = set((ws / "results" / "runs").glob("r*")) - before
    return json.loads((new / "last_run.json").read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--presets", default="easy,realistic,hard")
    ap.add_argument("--budgets", default="60,240", help="comma-separated training budgets in seconds; the first is the short one")
    ap.add_argument("--size", type=int, default=64, help="image_size the model trains at")
    ap.add_argument("--synth-size", type=int, default=128, help="size the images are generated at (the default set)")
    ap.add_argument("--n", type=int, default=400, help="samples of the synthetic set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="folder to keep the workspaces in (default: a temporary one)")
    args = ap.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    parent = args.keep or Path(tempfile.mkdtemp(prefix="gg-bench-presets-"))
    parent.mkdir(parents=True, exist_ok=True)
    print(f"size_px: {args.size}")
    print(f"synth_size_px: {args.synth_size}")
    print(f"budgets_s: {','.join(f'{b:g}' for b in budgets)}")
    for preset in args.presets.split(","):
        ws = _workspace(parent, preset, args.size, args.synth_size, args.n)
        for budget in budgets:
            t0 = time.perf_counter()
            s = _run(ws, budget, args.seed)
            key = f"{preset}_{budget:g}s"
            print(f"{key}_pbqc: {s['pbqc']:.4f}")
            print(f"{key}_dice: {s['dice']:.4f}")
            print(f"{key}_steps: {s['num_steps']}")
            print(f"{key}_wall_s: {time.perf_counter() - t0:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
