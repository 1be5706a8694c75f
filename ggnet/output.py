"""What a GG-Net model returns: the contract between train.py and the harness."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class GGOutput:
    """Output of `model(camera, render)`.

    theta: (B, 3, 3) homography in normalised coordinates (see `ggnet.warp`) that maps
        points of the render frame to points of the camera frame.
    mask_logits: (B, 1, H, W) defect logits in the camera frame.
    aux: anything else train.py wants to carry (warped render, losses' inputs, ...).
    """

    theta: torch.Tensor
    mask_logits: torch.Tensor
    aux: dict[str, torch.Tensor] = field(default_factory=dict)
