"""The novelty check's threshold: how similar a reworded repeat and a different idea look to the embedder.

Pairs of hypotheses (title and rationale, as Claude writes them for GG-Net): a repeat says the
same change in other words; a different idea is another change, often about the same part of the
model (so a plain keyword match would call it a repeat). For each threshold: the share of repeats
refused and of different ideas wrongly refused. Also the time of one check against 40 earlier
experiments (the embedder already loaded, as in the loop).

Prints `key: value` lines.

    python benchmarks/bench_novelty.py [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPEATS = [
    ("Double the alignment loss weight. The thesis [doc1:7] reports that a stronger alignment term stabilises the STN early in training.",
     "Raise the alignment loss weight from 1 to 2. A heavier alignment term keeps the STN stable in early training, as [doc1:7] reports."),
    ("Use a focal loss for the segmentation head. Thin defects are rare pixels; focal loss focuses training on hard examples.",
     "Switch the mask loss to focal loss. Rare, thin defect pixels are hard examples, and a focal loss puts the training on them."),
    ("Warm up the learning rate over the first 200 steps. Early instability of the STN collapses PBQC.",
     "Add a 200-step linear learning-rate warmup. The STN is unstable at the start and PBQC collapses without a warmup."),
    ("Freeze the STN for the first 30% of training. The segmentation head learns on the identity warp first.",
     "Keep the STN frozen during the first 30% of the budget, so the segmentation head first learns on the identity warp."),
    ("Add random rotation augmentation of up to 10 degrees. Robustness to the camera's misalignment.",
     "Augment with random rotations up to 10 degrees, to make the model robust to camera misalignment."),
    ("Halve the learning rate to 5e-4. The loss curve oscillates, so the step size is too large.",
     "Reduce the learning rate from 1e-3 to 5e-4. The oscillating loss curve says the steps are too big."),
    ("Widen the U-Net decoder to 64 channels. More capacity for thin defect structures.",
     "Increase the decoder width of the U-Net to 64 channels, giving thin defects more capacity."),
    ("Feed the G-code render as an extra input channel to the encoder. Early fusion lets the encoder compare print and plan.",
     "Concatenate the toolpath render with the camera image at the encoder input. Fusing early lets the encoder compare the plan and the print."),
    ("Use Dice loss plus BCE for the mask. Dice counters the class imbalance of defects.",
     "Combine BCE with a Dice loss on the mask output, because Dice handles the defect class imbalance."),
    ("Cosine learning-rate schedule instead of a constant rate. Annealing improves the final Dice.",
     "Replace the constant learning rate with cosine annealing; the annealed end of training should lift the final Dice."),
    ("Initialise the STN's last layer to the identity transform. A random initial warp throws the render off the part.",
     "Set the STN regressor's final layer to output the identity at start, since a random initial warp misplaces the render."),
    ("Clip gradients at norm 1.0. Exploding gradients in the STN crash some runs.",
     "Add gradient norm clipping at 1.0, because the STN's gradients explode and crash runs."),
]

DIFFERENT = [
    ("Double the alignment loss weight. A stronger alignment term stabilises the STN early.",
     "Halve the alignment loss weight. A weaker alignment term lets the segmentation learn first."),
    ("Use a focal loss for the segmentation head. Thin defects are rare pixels.",
     "Use a Tversky loss that weights false negatives more. Missed defects cost more than false alarms."),
    ("Warm up the learning rate over the first 200 steps. Early STN instability collapses PBQC.",
     "Decay the learning rate by 10x at 70% of the budget. A late drop sharpens the masks."),
    ("Freeze the STN for the first 30% of training. Segmentation learns on the identity warp first.",
     "Train the STN with a 10x smaller learning rate than the segmentation head. The warp should move slowly."),
    ("Add random rotation augmentation of up to 10 degrees. Robustness to misalignment.",
     "Add colour jitter augmentation of brightness and contrast. Robustness to lighting of the printed layer."),
    ("Widen the U-Net decoder to 64 channels. More capacity for thin defects.",
     "Use a deeper encoder, resnet34 instead of resnet18. Better features for low-contrast defects."),
    ("Feed the G-code render as an extra input channel to the encoder.",
     "Fuse the G-code render into the decoder through attention gates instead of at the input."),
    ("Use Dice loss plus BCE for the mask. Dice counters class imbalance.",
     "Raise the batch size from 8 to 16. Less noisy gradients for the segmentation head."),
    ("Cosine learning-rate schedule instead of a constant rate.",
     "Switch the optimiser from Adam to AdamW with weight decay 1e-4. Regularisation against overfitting the synthetic set."),
    ("Initialise the STN's last layer to the identity transform.",
     "Restrict the STN to an affine transform instead of a full homography. Fewer degrees of freedom to learn."),
    ("Clip gradients at norm 1.0. Exploding gradients in the STN crash some runs.",
     "Use mixed precision training. More steps fit into the time budget."),
    ("Train at 96 px instead of 64 px. Thin defects vanish at low resolution.",
     "Train at 48 px instead of 64 px. More steps in the budget matter more than detail."),
    ("Curriculum: start with small misalignments and widen them. The STN learns easy cases first.",
     "Add a PBQC-based auxiliary loss on the warped render. Direct supervision of the alignment."),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from gg_research.knowledge.embedder import load_embedder

    t0 = time.perf_counter()
    emb = load_embedder("all-MiniLM-L6-v2")
    load_s = time.perf_counter() - t0

    def sims(pairs: list[tuple[str, str]]) -> np.ndarray:
        v = emb.embed([t for pair in pairs for t in pair])
        return np.sum(v[0::2] * v[1::2], axis=1)

    rep, diff = sims(REPEATS), sims(DIFFERENT)
    print(f"embedder_load_s: {load_s:.2f}")
    print(f"repeat_pairs: {len(rep)}")
    print(f"different_pairs: {len(diff)}")
    print(f"repeat_similarity_min_median_max: {rep.min():.3f} {np.median(rep):.3f} {rep.max():.3f}")
    print(f"different_similarity_min_median_max: {diff.min():.3f} {np.median(diff):.3f} {diff.max():.3f}")
    for thr in (0.70, 0.75, 0.80, 0.85, 0.90):
        print(f"threshold_{thr:.2f}: repeats_refused {np.mean(rep >= thr):.2f}, different_refused {np.mean(diff >= thr):.2f}")
    earlier = [a for a, _ in REPEATS + DIFFERENT][:40]
    vectors = emb.embed(earlier)
    t0 = time.perf_counter()
    for _ in range(10):
        q = emb.embed([REPEATS[0][1]])[0]
        _ = vectors @ q
    print(f"check_ms_one_new_text_vs_{len(earlier)}: {(time.perf_counter() - t0) * 100:.1f}")
    t0 = time.perf_counter()
    emb.embed(earlier)
    print(f"embed_ms_{len(earlier)}_earlier_texts_once: {(time.perf_counter() - t0) * 1000:.1f}")


if __name__ == "__main__":
    main()
