"""PBQC and Dice on cases whose value is known by hand."""

from __future__ import annotations

import pytest
import torch

from gg_research.ggnet.metrics import DiceAccumulator, PBQCAccumulator, dice_micro, pbqc


def _rect(size: int, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
    r = torch.zeros(1, 1, size, size)
    r[..., y0:y1, x0:x1] = 1.0
    return r


def _shift(size: int, dx_px: float, dy_px: float = 0.0) -> torch.Tensor:
    # A pixel shift in normalised (align_corners=True) units: 2/(W-1) per pixel.
    th = torch.eye(3)
    th[0, 2] = 2.0 * dx_px / (size - 1)
    th[1, 2] = 2.0 * dy_px / (size - 1)
    return th[None]


def test_perfect_alignment_scores_one() -> None:
    render = _rect(33, 8, 20, 5, 25)
    theta = _shift(33, 1.5, -2.0)
    assert pbqc(render, theta, theta.clone()) == pytest.approx(1.0)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_shifted_rectangle_gives_known_value(k: int) -> None:
    # A w-wide rectangle against itself shifted by k px overlaps in (w-k)·h pixels:
    # Dice = 2(w-k)h / (2wh) = (w-k)/w.
    w = 16
    render = _rect(41, 10, 22, 8, 8 + w)
    value = pbqc(render, _shift(41, k), torch.eye(3)[None])
    assert value == pytest.approx((w - k) / w, abs=1e-6)


def test_shift_in_both_axes() -> None:
    # w x h rectangle, shifted by (kx, ky): overlap (w-kx)(h-ky); Dice = overlap / (w h).
    w, h, kx, ky = 12, 10, 2, 3
    render = _rect(40, 5, 5 + h, 6, 6 + w)
    value = pbqc(render, _shift(40, kx, ky), torch.eye(3)[None])
    assert value == pytest.approx((w - kx) * (h - ky) / (w * h), abs=1e-6)


def test_empty_vs_empty_is_one() -> None:
    z = torch.zeros(2, 1, 8, 8)
    assert dice_micro(z, z) == 1.0
    assert pbqc(z, torch.eye(3).repeat(2, 1, 1), torch.eye(3).repeat(2, 1, 1)) == 1.0


def test_prediction_on_empty_target_scores_zero() -> None:
    pred = torch.zeros(1, 1, 8, 8)
    pred[..., 0, 0] = 1
    assert dice_micro(pred, torch.zeros_like(pred)) == 0.0


def test_micro_differs_from_per_image_mean() -> None:
    # Image A: large object found perfectly (TP=16); image B: 1-pixel object missed with
    # one false positive elsewhere (TP=0, FP=1, FN=1).
    pred = torch.zeros(2, 1, 8, 8)
    tgt = torch.zeros(2, 1, 8, 8)
    pred[0, 0, :4, :4] = 1
    tgt[0, 0, :4, :4] = 1
    tgt[1, 0, 7, 7] = 1
    pred[1, 0, 0, 0] = 1
    micro = dice_micro(pred, tgt)
    assert micro == pytest.approx(32 / (32 + 1 + 1))
    per_image = (dice_micro(pred[:1], tgt[:1]) + dice_micro(pred[1:], tgt[1:])) / 2
    assert per_image == pytest.approx(0.5)
    assert micro != pytest.approx(per_image)


def test_accumulator_equals_whole_split_at_once() -> None:
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(6, 1, 16, 16, generator=g)
    tgt = (torch.rand(6, 1, 16, 16, generator=g) > 0.7).float()
    acc = DiceAccumulator()
    for i in range(0, 6, 4):
        acc.add(probs[i : i + 4], tgt[i : i + 4])
    assert acc.value() == pytest.approx(dice_micro(probs, tgt))


def test_logits_are_thresholded_after_sigmoid() -> None:
    logits = torch.tensor([[[[2.0, -2.0]]]])
    tgt = torch.tensor([[[[1.0, 0.0]]]])
    assert dice_micro(logits, tgt, logits=True) == 1.0
    # Read as probabilities the -2 would be below 0.5 too, but 2.0 >= 0.5: still 1; a logit
    # of 0.2 however is a probability of 0.55 -> positive, unlike the raw value 0.2.
    assert dice_micro(torch.tensor([[[[0.2, -1.0]]]]), tgt, logits=True) == 1.0
    assert dice_micro(torch.tensor([[[[0.2, -1.0]]]]), tgt) == 0.0


def test_material_fallback_and_skipping() -> None:
    size = 24
    render = _rect(size, 4, 12, 4, 12).repeat(3, 1, 1, 1)
    theta_pred = torch.eye(3).repeat(3, 1, 1)
    theta_gt = torch.eye(3).repeat(3, 1, 1)
    material = torch.zeros(3, 1, size, size)
    material[1, 0, 4:12, 4:8] = 1  # half of the rectangle: Dice 2*32/(64+32)
    has_theta = torch.tensor([True, False, False])
    has_material = torch.tensor([False, True, False])
    acc = PBQCAccumulator()
    acc.add_batch(render, theta_pred, theta_gt, has_theta, material, has_material)
    # Sample 0: TP=64; sample 1: TP=32, FP=32; sample 2 skipped.
    assert acc.tp == 96 and acc.fp == 32 and acc.fn == 0
    assert acc.value() == pytest.approx(2 * 96 / (2 * 96 + 32))


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="shape"):
        dice_micro(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 5, 5))
