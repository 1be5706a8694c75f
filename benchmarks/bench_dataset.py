"""Synthetic generation and dataset loading speed.

Prints `key: value` lines: generation time of the default synthetic set (400 samples at 128 px;
the target is well under a minute on one core), the loader's construction with a cold and a warm
render cache, the memory the split is held in, and the cost of one item and of one batch of 32
from the built dataset: through a plain DataLoader (float items stacked) and through
batch_loader, the trainer's and the evaluation's path (uint8 items stacked, converted once).
Usage: python benchmarks/bench_dataset.py [--n 400] [--size 128] [--preset easy|realistic|hard|dimensional]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--preset", default="easy")
    args = parser.parse_args()

    import torch

    from gg_research.ggnet.dataset import GGDataset, batch_loader
    from gg_research.ggnet.synth import generate

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        w0, c0 = time.perf_counter(), time.process_time()
        generate(root, args.n, args.size, 0, preset=args.preset)
        gen_wall, gen_cpu = time.perf_counter() - w0, time.process_time() - c0
        print(f"synth_preset: {args.preset}")
        print(f"synth_samples: {args.n}")
        print(f"synth_size_px: {args.size}")
        print(f"synth_wall_s: {gen_wall:.2f}")
        print(f"synth_cpu_s: {gen_cpu:.2f}")
        print(f"synth_ms_per_sample_cpu: {1000 * gen_cpu / args.n:.1f}")

        cache = Path(tmp) / "cache"
        t0 = time.perf_counter()
        cold = GGDataset(root, "train", args.size, cache_dir=cache)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        GGDataset(root, "train", args.size, cache_dir=cache)
        warm_s = time.perf_counter() - t0
        print(f"loader_train_samples: {len(cold)}")
        print(f"loader_build_cold_cache_s: {cold_s:.2f}")
        print(f"loader_build_warm_cache_s: {warm_s:.2f}")
        stored = sum(t.nbytes for t in (cold.camera, cold.render, cold.mask, cold.material, cold.theta))
        print(f"split_in_memory_mb: {stored / 2**20:.1f}")

        item_us = []
        for _ in range(5):
            t0 = time.perf_counter()
            for i in range(len(cold)):
                cold[i]
            item_us.append(1e6 * (time.perf_counter() - t0) / len(cold))
        print(f"getitem_us: {statistics.median(item_us):.1f}")
        for name, loader in (
            ("batch32_ms", torch.utils.data.DataLoader(cold, batch_size=32, shuffle=True)),
            ("batch32_batch_loader_ms", batch_loader(cold, 32, shuffle=True)),
        ):
            batch_ms = []
            for _ in range(3):
                t0 = time.perf_counter()
                n_batches = sum(1 for _ in loader)
                batch_ms.append(1000 * (time.perf_counter() - t0) / n_batches)
            print(f"{name}: {statistics.median(batch_ms):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
