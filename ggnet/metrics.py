"""PBQC and Dice, the two frozen objectives (ARCHITECTURE.md: Metrics).

Both are *micro*-averaged over the whole split: true positives, false positives and false
negatives are summed over every pixel of every image first, then
Dice = 2·ΣTP / (2·ΣTP + ΣFP + ΣFN). Images without defects therefore never make the score
undefined; when the denominator is 0 (prediction and target empty everywhere) the score is 1.

PBQC's definition lives in one function, `pbqc_pairs`: a user whose dissertation defines it
otherwise replaces that function (same signature) and re-runs the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gg_research.ggnet.warp import warp_to_camera


def _binarise(x: torch.Tensor, threshold: float, logits: bool) -> torch.Tensor:
    x = x.detach().float()
    if logits:
        x = torch.sigmoid(x)
    return (x >= threshold).float()


def image_counts(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, 3) TP, FP, FN per image of a batch of binary (B, 1, H, W) masks, via MONAI."""
    from monai.metrics import get_confusion_matrix

    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    if pred.ndim == 3:
        pred, target = pred[:, None], target[:, None]
    # MONAI returns (B, C, 4) = [tp, fp, tn, fn] per image and channel.
    cm = get_confusion_matrix(pred.float(), (target.float() >= 0.5).float(), include_background=True).sum(dim=1)
    return cm[:, [0, 1, 3]]


def confusion_counts(pred: torch.Tensor, target: torch.Tensor) -> tuple[float, float, float]:
    """(TP, FP, FN) summed over a batch of binary (B, 1, H, W) masks."""
    tp, fp, fn = image_counts(pred, target).sum(dim=0).tolist()
    return tp, fp, fn


@dataclass
class DiceAccumulator:
    """Micro-averaged Dice over many batches: add() each batch, then value()."""

    tp: float = 0.0
    fp: float = 0.0
    fn: float = 0.0

    def add_binary(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        tp, fp, fn = confusion_counts(pred, target)
        self.tp += tp
        self.fp += fp
        self.fn += fn

    def add(self, pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5, *, logits: bool = False) -> None:
        """Add a batch of probabilities (or logits with logits=True) against a {0,1} target."""
        self.add_binary(_binarise(pred, threshold, logits), target)

    def value(self) -> float:
        denom = 2 * self.tp + self.fp + self.fn
        return 1.0 if denom == 0 else 2 * self.tp / denom


def dice_micro(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5, *, logits: bool = False) -> float:
    """Micro-averaged Dice of one batch (or a whole split passed at once)."""
    acc = DiceAccumulator()
    acc.add(pred, target, threshold, logits=logits)
    return acc.value()


def pbqc_pairs(
    render: torch.Tensor,
    theta_pred: torch.Tensor,
    theta_gt: torch.Tensor,
    has_theta: torch.Tensor,
    material: torch.Tensor,
    has_material: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """THE definition of PBQC: the pair of binary masks whose micro-Dice is PBQC.

    Returns (predicted, reference), both (k, 1, H, W) in {0, 1}, for the k samples that can be
    scored: the render warped by the predicted transform against the render warped by the
    ground-truth transform; where there is no ground-truth transform but a printed-material
    mask, against that mask. Samples with neither are left out. Replace this function to
    change what PBQC means; the accumulation stays micro-averaged.
    """
    has_theta = has_theta.bool().reshape(-1)
    has_material = has_material.bool().reshape(-1)
    use = has_theta | has_material
    if not bool(use.any()):
        empty = render.new_zeros((0, *render.shape[1:]))
        return empty, empty
    render = render.float()
    pred = (warp_to_camera(render, theta_pred.float()) >= 0.5).float()
    # GT theta may be identity where unknown; warping it anyway keeps one batched call.
    gt = (warp_to_camera(render, theta_gt.float()) >= 0.5).float()
    ref = torch.where(has_theta.view(-1, 1, 1, 1), gt, (material.float() >= 0.5).float())
    return pred[use], ref[use]


def dice_image_counts(mask_logits: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """(B, 3) per-image counts whose sums are the micro-averaged Dice's (DiceAccumulator.add, logits)."""
    return image_counts(_binarise(mask_logits, threshold, True), target)


def pbqc_image_counts(render: torch.Tensor, theta_pred: torch.Tensor, theta_gt: torch.Tensor, has_theta: torch.Tensor,
                      material: torch.Tensor, has_material: torch.Tensor) -> torch.Tensor:
    """(B, 3) per-image counts whose sums are PBQC's; zeros for an image PBQC cannot score."""
    rows = torch.zeros(render.shape[0], 3)
    use = has_theta.bool().reshape(-1) | has_material.bool().reshape(-1)
    pred, ref = pbqc_pairs(render, theta_pred, theta_gt, has_theta, material, has_material)
    if pred.shape[0]:
        rows[use] = image_counts(pred, ref).float()
    return rows


class PBQCAccumulator(DiceAccumulator):
    """Micro-averaged PBQC over many batches (same counts as Dice, other masks)."""

    def add_batch(
        self,
        render: torch.Tensor,
        theta_pred: torch.Tensor,
        theta_gt: torch.Tensor,
        has_theta: torch.Tensor,
        material: torch.Tensor,
        has_material: torch.Tensor,
    ) -> None:
        pred, ref = pbqc_pairs(render, theta_pred, theta_gt, has_theta, material, has_material)
        if pred.shape[0]:
            self.add_binary(pred, ref)


def pbqc(
    render: torch.Tensor,
    theta_pred: torch.Tensor,
    theta_gt: torch.Tensor,
    has_theta: torch.Tensor | None = None,
    material: torch.Tensor | None = None,
    has_material: torch.Tensor | None = None,
) -> float:
    """PBQC of one batch; by default every sample has a ground-truth transform."""
    b = render.shape[0]
    if has_theta is None:
        has_theta = torch.ones(b, dtype=torch.bool)
    if material is None:
        material = torch.zeros_like(render)
    if has_material is None:
        has_material = torch.zeros(b, dtype=torch.bool)
    acc = PBQCAccumulator()
    acc.add_batch(render, theta_pred, theta_gt, has_theta, material, has_material)
    return acc.value()
