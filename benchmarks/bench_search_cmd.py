"""`gg-research search` as a command: wall time of the real CLI in fresh processes at 10,000 chunks.

Builds a workspace once (the laid-out test thesis ingested, then filler chunks written straight
to the store up to --chunks, as bench_kb.py does), then runs
`python -m gg_research.cli search QUERY --json` --runs times and prints `key: value` lines:
p50 and min seconds (target: p50 < 2 s on 2 cores). --workspace reuses (or keeps) a workspace.

    python benchmarks/bench_search_cmd.py [--chunks 10000] [--runs 7] [--workspace DIR]
"""

from __future__ import annotations

import argparse
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
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

QUERY = "which learning rate gave the best Dice score in the grid search"


def build(ws: Path, chunks: int) -> int:
    from bench_kb import add_filler
    from gg_research.config import KnowledgeSection
    from gg_research.knowledge.ingest import Ingestor
    from tests.knowledge.thesis_pdf import flow_thesis_items, write_flow

    ws.mkdir(parents=True, exist_ok=True)
    (ws / "gg-research.toml").write_text("")
    cfg = KnowledgeSection()
    pdf = write_flow(ws / "thesis.pdf", flow_thesis_items(filler=4, seed=11))
    Ingestor(ws, cfg).ingest([pdf])
    return add_filler(ws, cfg, chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--workspace", type=Path, help="reuse this workspace (built there when missing)")
    args = parser.parse_args()
    from gg_research.workspace_map import WorkspaceMap

    with tempfile.TemporaryDirectory(prefix="gg-bench-search-") as tmp:
        ws = args.workspace or Path(tmp) / "ws"
        if not WorkspaceMap(ws).state.is_dir():
            print(f"collection_chunks: {build(ws, args.chunks)}")
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        cmd = [sys.executable, "-m", "gg_research.cli", "search", QUERY, "-k", "5", "--json"]
        subprocess.run(cmd, cwd=ws, env=env, capture_output=True, check=True)  # first use: caches, OS page cache
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ws, env=env, capture_output=True, text=True)
            times.append(time.perf_counter() - t)
            assert proc.returncode == 0 and '"chunk_id"' in proc.stdout, proc.stderr[-2000:]
        print(f"cpu_count: {os.cpu_count()}")
        print(f"load_average_1min: {os.getloadavg()[0]:.2f}")
        print(f"search_cmd_runs: {args.runs}")
        print(f"search_cmd_p50_s: {statistics.median(times):.2f}  (target < 2)")
        print(f"search_cmd_min_s: {min(times):.2f}")


if __name__ == "__main__":
    main()
