"""The trusted parent's cost of scoring one run on the default validation split (400 samples at
128 px: 80 validation and 40 test images): wall time and the memory the parent gains while it
checks and scores the predictions a run left.

    python benchmarks/bench_scoring.py [--n 400] [--size 128]

Prints `key: value` figures: the peak resident memory before the labels are loaded, after, and
after scoring validation and test predictions, and the seconds each step took.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--size", type=int, default=128)
    args = ap.parse_args()

    import numpy as np

    from gg_research.config import Config
    from gg_research.ggnet.synth import ensure_synthetic
    from gg_research.harness.scorer import PREDICTIONS, PREDICTIONS_TEST, score_predictions, test_labels, val_labels

    work = Path(tempfile.mkdtemp(prefix="gg-bench-scoring-"))
    root = ensure_synthetic(Path(tempfile.gettempdir()) / "gg-bench-data", args.n, args.size, 0)
    config = Config()
    config.data.image_size = args.size
    before = _peak_mb()
    t0 = time.perf_counter()
    val = val_labels(work, root, config, "bench")
    test = test_labels(work, root, config, "bench")
    t_labels = time.perf_counter() - t0
    after_labels = _peak_mb()
    rng = np.random.default_rng(0)
    for name, labels in ((PREDICTIONS, val), (PREDICTIONS_TEST, test)):
        n = len(labels)
        theta = np.repeat(np.eye(3, dtype=np.float32)[None], n, 0) + rng.normal(0, 0.01, (n, 3, 3)).astype(np.float32)
        np.savez(work / name, theta=theta, mask_logits=rng.normal(0, 1, (n, 1, args.size, args.size)).astype(np.float32))
    t1 = time.perf_counter()
    score_predictions(work, val, 32)
    t_val = time.perf_counter() - t1
    t2 = time.perf_counter()
    score_predictions(work, test, 32, PREDICTIONS_TEST, evidence=False)
    t_test = time.perf_counter() - t2
    print(f"val_images: {len(val)}")
    print(f"test_images: {len(test)}")
    print(f"peak_rss_mb_before_labels: {before:.0f}")
    print(f"peak_rss_mb_with_labels: {after_labels:.0f}")
    print(f"peak_rss_mb_after_scoring: {_peak_mb():.0f}")
    print(f"scoring_memory_mb: {_peak_mb() - after_labels:.0f}")
    print(f"labels_seconds: {t_labels:.2f}")
    print(f"score_val_seconds: {t_val:.2f}")
    print(f"score_test_seconds: {t_test:.2f}")


if __name__ == "__main__":
    main()
