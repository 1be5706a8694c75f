"""What the loop pays to read its ledger, as a night grows: a cold read against the index.

The loop reads the ledger about ten times an experiment (its id, the night's memory, novelty,
repeats, resume, the report's figures). Each experiment here has the size of a Claude night's:
a diff of a few KB, six cited passages and three seeds.

    python benchmarks/bench_ledger.py [--experiments 100 400] [--reads 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gg_research.results.ledger import Experiment, LedgerFile, SeedRun, Status, read_ledger


def _experiment(number: int) -> Experiment:
    passages = [{"chunk_id": f"d{k}:{number}", "page": k, "section": "3.2 Alignment",
                 "text": "the toolpath render is warped onto the camera image " * 10} for k in range(6)]
    diff = "".join(f"-LR = {number}e-4\n+LR = {number + 1}e-4\n" for _ in range(100))
    return Experiment(id=f"e{number:04d}", tag="night", title=f"idea {number}", commit=f"{number:040x}",
                      hypothesis={"title": f"idea {number}", "rationale": "because " * 40}, passages=passages,
                      diff=diff)


def _end(exp: Experiment) -> Experiment:
    exp.status, exp.reason = Status.DISCARD, "dominated by e0001"
    exp.seeds = [SeedRun(seed=s, status="ok", metrics={"pbqc": 0.5, "dice": 0.4},
                         aux={"img_per_sec": 100.0}) for s in range(3)]
    exp.metrics = {"pbqc": 0.5, "dice": 0.4}
    return exp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--reads", type=int, default=10, help="reads of the ledger per experiment")
    args = parser.parse_args()
    for count in args.experiments:
        with tempfile.TemporaryDirectory() as tmp:
            led = LedgerFile(Path(tmp))
            for n in range(1, count + 1):
                exp = _experiment(n)
                led.start(exp)
                led.end(_end(exp))
            size_mb = led.jsonl.stat().st_size / 1e6
            t0 = time.perf_counter()
            for _ in range(args.reads):
                read_ledger(led.jsonl)
            cold = (time.perf_counter() - t0) / args.reads
            led.read()
            t0 = time.perf_counter()
            for _ in range(args.reads):
                led.read()
            warm = (time.perf_counter() - t0) / args.reads
            # One more experiment as the loop has it: a start line, reads, an end line, reads.
            exp = _experiment(count + 1)
            t0 = time.perf_counter()
            led.start(exp)
            for _ in range(args.reads // 2):
                led.read()
            led.end(_end(exp))
            for _ in range(args.reads // 2):
                led.read()
            cycle = time.perf_counter() - t0
            print(f"experiments: {count}")
            print(f"ledger_mb: {size_mb:.2f}")
            print(f"cold_read_ms: {cold * 1000:.1f}")
            print(f"indexed_read_ms: {warm * 1000:.1f}")
            print(f"experiment_reads_before_ms: {cold * args.reads * 1000:.0f}")
            print(f"experiment_reads_after_ms: {cycle * 1000:.0f}  # two fsynced appends included")


if __name__ == "__main__":
    main()
