"""The frozen evaluation, in two halves that never share a process in a run.

`predict` runs the trained model on the validation *inputs* (camera, render) and lives in the
untrusted child beside train.py; `score` computes PBQC and Dice from those predictions and the
validation *labels*, which only the trusted side holds (harness.scorer). `evaluate` joins them
for in-process use (benchmarks, tests), where there is nothing to guard.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch.utils.data import Dataset

from gg_research.ggnet.dataset import Sample, batch_loader
from gg_research.ggnet.metrics import DiceAccumulator, PBQCAccumulator, dice_image_counts, pbqc_image_counts
from gg_research.harness.errors import TrainContractError


def _check_output(out: object, batch_size: int, hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    theta = getattr(out, "theta", None)
    logits = getattr(out, "mask_logits", None)
    if not torch.is_tensor(theta) or not torch.is_tensor(logits):
        raise TrainContractError(
            f"train.py: the model must return an object with tensors .theta and .mask_logits (ggnet.output.GGOutput), got {type(out).__name__}"
        )
    if tuple(theta.shape) != (batch_size, 3, 3):
        raise TrainContractError(f"train.py: model output theta has shape {tuple(theta.shape)}, expected ({batch_size}, 3, 3)")
    if tuple(logits.shape) != (batch_size, 1, *hw):
        raise TrainContractError(
            f"train.py: model output mask_logits has shape {tuple(logits.shape)}, expected ({batch_size}, 1, {hw[0]}, {hw[1]})"
        )
    return theta, logits


def predict(
    model: torch.nn.Module,
    inputs: Dataset[Sample],
    device: torch.device,
    batch_size: int = 32,
    autocast: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(theta (N,3,3) float32, mask_logits (N,1,S,S) float32) of the model on the inputs, on the CPU."""
    model.eval()
    thetas, masks = [], []
    loader = batch_loader(inputs, batch_size, shuffle=False, num_workers=0)
    with torch.no_grad():
        for batch in loader:
            camera = batch["camera"].to(device)
            render = batch["render"].to(device)
            with autocast() if autocast is not None else contextlib.nullcontext():
                out = model(camera, render)
            theta, logits = _check_output(out, camera.shape[0], tuple(camera.shape[-2:]))
            thetas.append(theta.float().cpu())
            masks.append(logits.float().cpu())
    return torch.cat(thetas), torch.cat(masks)


def score(theta: torch.Tensor, mask_logits: torch.Tensor, labels: Dataset[Sample], batch_size: int = 32,
          per_image: dict[str, list[torch.Tensor]] | None = None) -> dict[str, float]:
    """{'pbqc', 'dice'} of predictions against the labels, micro-averaged over the whole split.

    With `per_image` (a dict), each metric's (N, 3) per-image TP/FP/FN counts are appended to it
    batch by batch: the evidence a paired test compares two runs on (results.paired)."""
    dice = DiceAccumulator()
    pbqc = PBQCAccumulator()
    start = 0
    for batch in batch_loader(labels, batch_size, shuffle=False, num_workers=0):
        n = batch["mask"].shape[0]
        logits, th = mask_logits[start:start + n], theta[start:start + n]
        start += n
        dice.add(logits, batch["mask"], logits=True)
        pbqc.add_batch(batch["render"], th, batch["theta"], batch["has_theta"], batch["material"], batch["has_material"])
        if per_image is not None:
            per_image.setdefault("dice", []).append(dice_image_counts(logits, batch["mask"]))
            per_image.setdefault("pbqc", []).append(pbqc_image_counts(
                batch["render"], th, batch["theta"], batch["has_theta"], batch["material"], batch["has_material"]))
    return {"pbqc": pbqc.value(), "dice": dice.value()}


def evaluate(
    model: torch.nn.Module,
    dataset: Dataset[Sample],
    device: torch.device,
    batch_size: int = 32,
    autocast: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
) -> dict[str, float]:
    """{'pbqc', 'dice'} of a model on a labelled split, in one process (benchmarks and tests)."""
    theta, logits = predict(model, dataset, device, batch_size, autocast)
    return score(theta, logits, dataset, batch_size)
