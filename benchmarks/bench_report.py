"""Report speed: what refreshing the morning report costs the loop after each experiment.

Builds ledgers of a typical night (40 experiments) and a long week (300) in a temporary
workspace and times reading + analysis (what `report --format json` does) and the full
write (HTML, Markdown, JSON and both plots). Prints `key: value` lines, medians of a few runs.
Usage: python benchmarks/bench_report.py [--sizes 40 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, UTC
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gg_research.config import load_config  # noqa: E402
from gg_research.results.report import build_analysis, write_report  # noqa: E402
from gg_research.workspace_map import WorkspaceMap  # noqa: E402

STATUSES = ["keep"] * 2 + ["discard"] * 12 + ["crash", "invalid"]


def make_workspace(root: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    layout = WorkspaceMap(root)
    layout.runs.mkdir(parents=True)
    (root / "gg-research.toml").write_text("")
    start = datetime(2026, 11, 21, 22, 0, tzinfo=UTC)
    lines = []
    for i in range(1, n + 1):
        exp_id = f"e{i:04d}"
        status = "baseline" if i == 1 else rng.choice(STATUSES)
        t0 = start + timedelta(minutes=9 * (i - 1))
        cite = {"source": "thesis.pdf", "page": rng.randint(1, 300), "section": "3.3.4 Training schedule",
                "text": "Joint training kept the alignment from collapsing. " * 4}
        lines.append(json.dumps({"event": "start", "id": exp_id, "tag": "bench", "status": "running",
                                 "hypothesis": {"title": f"idea {i}", "rationale": "because", "citations": [cite]},
                                 "started_at": t0.isoformat()}))
        end = {"event": "end", "id": exp_id, "status": status, "commit": f"{i:07x}", "title": f"idea {i}",
               "decision": status, "reason": "by the pareto rule", "diff": str(WorkspaceMap(Path()).run(exp_id).patch),
               "ended_at": (t0 + timedelta(minutes=8)).isoformat()}
        if status != "crash":
            end["metrics"] = {"pbqc": rng.uniform(0.4, 0.7), "dice": rng.uniform(0.4, 0.7)}
        lines.append(json.dumps(end))
        run = layout.run(exp_id)
        run.path.mkdir()
        run.patch.write_text("--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-LR = 3e-4\n+LR = 1e-3\n" * 5)
    layout.ledger.write_text("\n".join(lines) + "\n")
    return root


def median_seconds(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 300])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            ws = make_workspace(Path(tmp) / f"ws{n}", n)
            cfg = load_config(ws / "gg-research.toml")
            write_report(ws, cfg)  # warm: matplotlib's font cache and imports
            print(f"experiments_{n}_analysis_seconds: {median_seconds(functools.partial(build_analysis, ws, cfg), args.repeats):.3f}")
            print(f"experiments_{n}_full_report_seconds: {median_seconds(functools.partial(write_report, ws, cfg), args.repeats):.3f}")
            size = (WorkspaceMap(ws).results / "report.html").stat().st_size
            print(f"experiments_{n}_report_html_kb: {size / 1024:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
