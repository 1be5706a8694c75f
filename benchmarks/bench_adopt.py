"""From `gg-research adopt` to the first experiment, on the autoresearch-shaped fixture repo of the
tests (a pure-Python training script of a few milliseconds, so the figures are the tool's own time).

Runs `adopt` and then `loop --tag bench --max-experiments N --baseline-seeds 1` as a user would,
watches the ledger, and prints `key: value` lines: adopt's wall time, then the time from adopt's
start to the baseline's start line, to the first proposed experiment's start line, and to the end
of the night.

    python benchmarks/bench_adopt.py [--experiments 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _started(ledger: Path) -> list[str]:
    """Ids of the loop's experiments (not the imported h…) whose start line is written."""
    if not ledger.is_file():
        return []
    ids = []
    for line in ledger.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "start" and str(rec.get("id", "")).startswith("e"):
            ids.append(rec["id"])
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the repo here and keep it")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.gg_research.adopt_fixtures import autoresearch_repo

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-adopt-"))
    repo, _ = autoresearch_repo(root)
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"} | {"OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "gg_research.cli"]
    t0 = time.perf_counter()
    subprocess.run([*cli, "adopt", str(repo), "--command", f"{sys.executable} train.py"], env=env, check=True,
                   capture_output=True, timeout=120)
    t_adopt = time.perf_counter() - t0
    loop = subprocess.Popen([*cli, "loop", "--tag", "bench", "--max-experiments", str(args.experiments),
                             "--baseline-seeds", "1", "--budget", "5", "--proposer", "optuna"], cwd=repo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ledger = repo / "results" / "experiments.jsonl"
    seen: dict[str, float] = {}
    while loop.poll() is None:
        for exp_id in _started(ledger):
            seen.setdefault(exp_id, time.perf_counter() - t0)
        time.sleep(0.02)
    t_end = time.perf_counter() - t0
    for exp_id in _started(ledger):
        seen.setdefault(exp_id, t_end)
    if loop.returncode != 0:
        print(f"loop failed: {loop.stderr.read()[-500:]}", file=sys.stderr)
        return 1
    print(f"adopt_seconds: {t_adopt:.2f}")
    print(f"adopt_to_baseline_start_seconds: {seen.get('e0001', float('nan')):.2f}")
    print(f"adopt_to_first_experiment_seconds: {seen.get('e0002', float('nan')):.2f}")
    print(f"adopt_to_night_end_seconds: {t_end:.2f}")
    print(f"experiments: {len(seen) - 1}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
