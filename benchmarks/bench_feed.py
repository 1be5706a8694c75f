"""What serving the training split from the parent costs (harness.feed), against the same
loader over the split in the run's own memory.

The parent's server runs in a process of its own, as in a real run; the run's side draws
batches through `ctx.loader` (the next batch is requested while the current one is handed
over). `step_ms` simulates a training step between batches, so the overlap shows: with a step
longer than a transfer the feed's cost should vanish.

    python benchmarks/bench_feed.py [--size 128] [--batch 32] [--samples 280] [--epochs 3] [--step-ms 0]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _split(size: int, samples: int, folder: Path):
    import torch

    from gg_research.ggnet.dataset import GGDataset

    ds = GGDataset.__new__(GGDataset)  # random bytes of the stored shapes: the feed moves bytes, not images
    g = torch.Generator().manual_seed(0)
    ds.ids, ds.image_size, ds.split, ds.root, ds.samples = [f"s{i:05d}" for i in range(samples)], size, "train", folder, []
    for name, ch in (("camera", 3), ("render", 1), ("mask", 1), ("material", 1)):
        setattr(ds, name, torch.randint(0, 256, (samples, ch, size, size), dtype=torch.uint8, generator=g))
    ds.theta = torch.eye(3).repeat(samples, 1, 1)
    ds.has_theta = torch.ones(samples, dtype=torch.bool)
    ds.has_material = torch.zeros(samples, dtype=torch.bool)
    path = folder / "train.npz"
    ds.save(path)
    return path


def _serve(path: str, fd: int) -> None:
    import socket

    from gg_research.ggnet.dataset import GGDataset
    from gg_research.harness.feed import FeedServer

    server = FeedServer(socket.socket(fileno=fd))
    server.serve(GGDataset.load(Path(path), "train"), 0)
    server._thread.join()  # until the run's side hangs up


def _draw(ctx, batch: int, epochs: int, step_s: float) -> tuple[int, float]:
    n, t = 0, time.perf_counter()
    for _ in range(epochs):
        for b in ctx.loader(batch):
            n += b["camera"].shape[0]
            if step_s:
                time.sleep(step_s)
    return n, time.perf_counter() - t


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        return _serve(sys.argv[2], int(sys.argv[3]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--samples", type=int, default=280)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--step-ms", type=float, default=0.0, help="a simulated training step between batches")
    args = ap.parse_args()

    import torch

    from gg_research.ggnet.dataset import GGDataset
    from gg_research.harness.context import TrainContext
    from gg_research.harness.feed import pair
    from gg_research.harness.served import ServedDataset

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = _split(args.size, args.samples, Path(tmp))
        local = GGDataset.load(path, "train")

        def ctx(ds) -> TrainContext:
            c = TrainContext(device=torch.device("cpu"), seed=0, image_size=args.size, train_dataset=ds, budget_s=1e6,
                             run_dir=Path(tmp))
            c.start_clock()
            return c

        step = args.step_ms / 1000
        n_local, t_local = _draw(ctx(local), args.batch, args.epochs, step)
        ours, theirs = pair()
        # A fresh process (as the parent is to a run), not a fork: a forked torch process can hang.
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(path), str(theirs.fileno())],
                                  pass_fds=(theirs.fileno(),))
        theirs.close()
        served = ServedDataset(ours.detach())
        n_served, t_served = _draw(ctx(served), args.batch, args.epochs, step)
        served._sock.close()
        server.wait(10)
    mb = n_served * (6 * args.size**2 + 38) / 2**20
    batches = n_served / args.batch
    print(f"image_size: {args.size}")
    print(f"batch: {args.batch}")
    print(f"step_ms: {args.step_ms:g}")
    print(f"images: {n_served}")
    print(f"in_memory_img_per_s: {n_local / t_local:.0f}")
    print(f"served_img_per_s: {n_served / t_served:.0f}")
    print(f"served_mb_per_s: {mb / t_served:.0f}")
    print(f"added_ms_per_batch: {1000 * (t_served - t_local) / batches:.2f}")
    print(f"added_pct: {100 * (t_served - t_local) / t_local:.1f}")


if __name__ == "__main__":
    main()
