"""The frozen evaluation: PBQC and Dice of a trained model on the validation split."""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
from torch.utils.data import Dataset

from gg_research.ggnet.dataset import batch_loader
from gg_research.ggnet.metrics import DiceAccumulator, PBQCAccumulator
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


def evaluate(
    model: torch.nn.Module,
    dataset: Dataset,
    device: torch.device,
    batch_size: int = 32,
    autocast: Callable[[], contextlib.AbstractContextManager] | None = None,
) -> dict[str, float]:
    """{'pbqc', 'dice'} micro-averaged over the whole split."""
    model.eval()
    dice = DiceAccumulator()
    pbqc = PBQCAccumulator()
    loader = batch_loader(dataset, batch_size, shuffle=False, num_workers=0)
    with torch.no_grad():
        for batch in loader:
            camera = batch["camera"].to(device)
            render = batch["render"].to(device)
            with autocast() if autocast is not None else contextlib.nullcontext():
                out = model(camera, render)
            theta, logits = _check_output(out, camera.shape[0], tuple(camera.shape[-2:]))
            dice.add(logits.float().cpu(), batch["mask"], logits=True)
            pbqc.add_batch(
                batch["render"], theta.float().cpu(), batch["theta"], batch["has_theta"], batch["material"], batch["has_material"]
            )
    return {"pbqc": pbqc.value(), "dice": dice.value()}
