"""Training throughput of the baseline template at 128x128 on this machine, the data-loading
share of a training step, and evaluation time against the budget.

    python benchmarks/bench_train.py [--steps 12] [--threads 2] [--n 64]

Prints `key: value` figures. The full step is the template's own loop (data loading, schedule,
logging included); the model step is forward+backward+optimiser on one batch held in memory.
Target: full step within 10 % of the model step; evaluation under 10 % of the budget.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=64, help="synthetic samples to generate (cached)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "gg-bench-data")
    ap.add_argument("--budget", type=float, default=300.0, help="budget to compare evaluation time with")
    ap.add_argument("--val-size", type=int, default=80, help="validation images of the default dataset (400 x 20 %)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import sys

    sys.path.insert(0, str(ROOT))
    from gg_research.ggnet.dataset import GGDataset
    from gg_research.ggnet.synth import ensure_synthetic
    from gg_research.harness.evaluate import evaluate
    from tests.harness.standin import load_template, make_step_ctx

    size = 128
    root = ensure_synthetic(args.cache, args.n, size, 0)
    train = GGDataset(root, "train", size)  # as the harness child hands it to train.py: uint8 in memory
    val = GGDataset(root, "val", size)
    m = load_template(Path(tempfile.mkdtemp()) / "train.py")
    cpu = torch.device("cpu")

    # Full step: the template's own loop, with a context whose clock is counted in steps.
    warm = 2
    ctx = make_step_ctx(train, args.steps + warm, Path(tempfile.gettempdir()))
    ctx.log_interval_s = 1e9
    marks: list[float] = []
    orig_log = ctx.log

    def timed_log(step: int, **kw) -> None:
        marks.append(time.perf_counter())
        orig_log(step, **kw)

    ctx.log = timed_log  # type: ignore[method-assign]
    ctx.start_clock()
    torch.manual_seed(0)
    m.train(ctx)
    full_step = (marks[-1] - marks[warm - 1]) / (len(marks) - warm)

    # Model step on a batch already in memory, and the loader's own fetch time.
    model = m.GGNet().train()
    opt = torch.optim.AdamW(model.parameters(), lr=m.LR)
    seg_loss = m.make_seg_loss()
    loader = ctx.loader(m.BATCH_SIZE)
    it = iter(loader)
    batch = next(it)
    fetch_times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        try:
            next(it)
        except StopIteration:
            it = iter(loader)
            next(it)
        fetch_times.append(time.perf_counter() - t)
    step_times = []
    for i in range(args.steps + warm):
        t = time.perf_counter()
        out = model(batch["camera"], batch["render"])
        loss = m.ALIGN_LOSS_WEIGHT * m.alignment_loss(out, batch) + m.SEG_LOSS_WEIGHT * seg_loss(out.mask_logits, batch["mask"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= warm:
            step_times.append(time.perf_counter() - t)
    model_step = sum(step_times) / len(step_times)
    fetch = sum(fetch_times) / len(fetch_times)

    t = time.perf_counter()
    evaluate(model, val, cpu, 32)
    eval_s = time.perf_counter() - t
    eval_default = eval_s * args.val_size / len(val)

    print(f"device: cpu ({args.threads} threads)")
    print(f"image_size: {size}")
    print(f"batch_size: {m.BATCH_SIZE}")
    print(f"train_img_per_sec: {m.BATCH_SIZE / full_step:.2f}")
    print(f"full_step_s: {full_step:.3f}")
    print(f"model_step_s: {model_step:.3f}")
    print(f"loader_fetch_s: {fetch:.4f}")
    print(f"data_loading_share: {fetch / full_step:.4f}")
    print(f"full_step_over_model_step: {full_step / model_step:.3f}")
    print(f"eval_seconds_{len(val)}_images: {eval_s:.2f}")
    print(f"eval_seconds_default_val_{args.val_size}_images: {eval_default:.2f}")
    print(f"eval_share_of_{args.budget:g}s_budget: {eval_default / args.budget:.4f}")


if __name__ == "__main__":
    main()
