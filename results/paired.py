"""Paired per-image evidence: a candidate against the run it must beat, on the same images.

Each run leaves, per validation image, the confusion counts (TP, FP, FN) of each micro-averaged
metric (harness.scorer writes them to per_image.npz). Resampling *images* (with replacement, the
same resample for both runs) and recomputing both micro-averaged metrics gives the distribution
of their difference: a bootstrap interval that says how sure one seed's win on these images is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gg_research.workspace_map import PER_IMAGE_FILE



@dataclass(frozen=True)
class Interval:
    """The difference candidate − reference of one metric, with its bootstrap interval."""

    metric: str
    diff: float
    low: float
    high: float
    level: float
    images: int

    @property
    def sure_better(self) -> bool:
        return self.low > 0

    @property
    def sure_worse(self) -> bool:
        return self.high < 0

    def text(self, label: str | None = None) -> str:
        return (f"Δ{label or self.metric} {self.diff:+.4f} [{self.low:+.4f}, {self.high:+.4f}] "
                f"({self.level:.0%}, {self.images} images)")


def micro(counts: np.ndarray) -> np.ndarray:
    """Micro-averaged Dice of counts summed over the second-to-last axis: (..., N, 3) -> (...)."""
    tp, fp, fn = (counts.sum(axis=-2)[..., i] for i in range(3))
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 1.0)


def paired_interval(candidate: np.ndarray, reference: np.ndarray, metric: str = "", *, level: float = 0.95,
                    resamples: int = 2000, seed: int = 0) -> Interval:
    """Bootstrap interval of micro(candidate) − micro(reference) over the same resampled images.

    Both arrays are (N, 3) TP/FP/FN per image, in the same image order.
    """
    candidate, reference = np.asarray(candidate, float), np.asarray(reference, float)
    if candidate.shape != reference.shape or candidate.ndim != 2 or candidate.shape[1] != 3 or not len(candidate):
        raise ValueError(f"per-image counts of shapes {candidate.shape} and {reference.shape} cannot be paired")
    n = len(candidate)
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    diffs = micro(candidate[idx]) - micro(reference[idx])
    alpha = (1.0 - level) / 2
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    return Interval(metric, float(micro(candidate) - micro(reference)), float(low), float(high), level, n)


def load_counts(run_dir: Path) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """(image ids, {metric: (N, 3) counts}) of a run folder, or None when it has none."""
    path = Path(run_dir) / PER_IMAGE_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            ids = np.asarray(z["ids"]).astype(str)
            counts = {k[:-len("_counts")]: np.asarray(z[k], float) for k in z.files if k.endswith("_counts")}
    except (OSError, ValueError, KeyError):
        return None
    return ids, counts


def compare_runs(candidate_dir: Path, reference_dir: Path, metrics: list[str], *, level: float = 0.95
                 ) -> dict[str, Interval]:
    """The paired interval per metric of two run folders, on the images both scored ({} if either lacks counts)."""
    a, b = load_counts(candidate_dir), load_counts(reference_dir)
    if a is None or b is None or list(a[0]) != list(b[0]):
        return {}
    return {m: paired_interval(a[1][m], b[1][m], m, level=level) for m in metrics if m in a[1] and m in b[1]}
