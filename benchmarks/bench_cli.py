"""CLI responsiveness: wall time of `gg-research --help` and of an argument error.

Target: both under 1 s (torch, Chroma and sentence-transformers are imported only by
the commands that need them). Prints `key: value` lines.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time


def time_command(argv: list[str], repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, timeout=60)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    exe = shutil.which("gg-research")
    base = [exe] if exe else [sys.executable, "-m", "gg_research.cli"]
    print(f"help_seconds: {time_command(base + ['--help']):.3f}")
    print(f"run_help_seconds: {time_command(base + ['run', '--help']):.3f}")
    print(f"argument_error_seconds: {time_command(base + ['loop', '--no-such-flag']):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
