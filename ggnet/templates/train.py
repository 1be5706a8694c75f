"""GG-Net baseline: G-code-guided defect segmentation. THE file the research loop edits.

A spatial transformer (STN) predicts a constrained homography that warps the G-code render
onto the camera image; a U-Net (segmentation-models-pytorch) takes the camera image fused
with the warped render and marks the defects. Training is joint by default (alignment and
segmentation losses together); STN_WARMUP_FRACTION > 0 makes it staged.

The harness calls `train(ctx)` and evaluates the returned model itself (PBQC and Dice on a
validation split this file never sees). Training stops when `ctx.done()`: the time budget is
spent, or the images budget when the config counts work instead of time.

Each UPPERCASE constant with a trailing "search:" comment is a knob the offline proposer may turn:
log(lo, hi) | float(lo, hi) | int(lo, hi) | choice(a, b, ...).
"""

from __future__ import annotations

import math

import segmentation_models_pytorch as smp
import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.losses import DiceCELoss, DiceFocalLoss

from gg_research.ggnet.output import GGOutput
from gg_research.ggnet.warp import warp_to_camera

# --- optimisation -----------------------------------------------------------------------
LR = 3e-3  # search: log(1e-4, 1e-2)
STN_LR = 1e-3  # search: log(1e-5, 3e-3)
WEIGHT_DECAY = 1e-4  # search: log(1e-6, 1e-2)
BATCH_SIZE = 4  # search: choice(4, 8, 16)
SCHEDULE = "cosine"  # search: choice("cosine", "warm_restarts", "constant")
RESTART_PERIOD = 0.25  # search: float(0.1, 0.5)
WARMUP = 0.03  # search: float(0.0, 0.2)
GRAD_CLIP = 1.0  # search: float(0.1, 10.0)

# --- curriculum and losses ----------------------------------------------------------------
STN_WARMUP_FRACTION = 0.0  # search: float(0.0, 0.5)
ALIGN_LOSS_WEIGHT = 1.0  # search: log(0.1, 10.0)
SEG_LOSS_WEIGHT = 1.0  # search: log(0.1, 10.0)
SEG_LOSS = "dicece"  # search: choice("dicece", "focal", "bce")
STN_REG_WEIGHT = 1e-3  # search: log(1e-5, 1e-1)
SEG_GRAD_TO_STN = False  # search: choice(False, True)
ALIGN_AUG = 0.25  # search: float(0.0, 0.6)

# --- STN constraints (normalised coordinates, [-1, 1] spans the image) -------------------
MAX_ROTATION_DEG = 15.0  # search: float(2.0, 30.0)
MAX_SCALE_DELTA = 0.2  # search: float(0.05, 0.5)
MAX_TRANSLATION = 0.3  # search: float(0.05, 0.6)
MAX_PERSPECTIVE = 0.05  # search: float(0.0, 0.2)
STN_CHANNELS = 32  # search: choice(16, 32, 64)
STN_INPUT_SIZE = 96  # search: choice(64, 96, 128)

# --- architecture ----------------------------------------------------------------------------
ENCODER = "resnet18"  # search: choice("resnet18", "resnet34", "mobilenet_v2", "efficientnet-b0")
ENCODER_DEPTH = 3  # search: int(3, 5)
DECODER_CHANNELS = 16  # search: choice(8, 16, 32, 64)
DROPOUT = 0.1  # search: float(0.0, 0.5)
FUSION = "concat"  # search: choice("concat", "gated")


class STN(nn.Module):
    """Localisation net on camera + render -> constrained homography (identity at start)."""

    N_PARAMS = 7  # rotation, scale x, scale y, translation x, y, perspective x, y

    def __init__(self) -> None:
        super().__init__()
        c = STN_CHANNELS
        layers: list[nn.Module] = []
        cin = 4
        for cout in (c, c, 2 * c, 2 * c):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * 16, 128), nn.ReLU(inplace=True), nn.Linear(128, self.N_PARAMS))
        # Zero-init of the last layer: the first transform is exactly the identity.
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, camera: torch.Tensor, render: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([camera, render], dim=1)
        if x.shape[-1] != STN_INPUT_SIZE:
            x = F.interpolate(x, size=(STN_INPUT_SIZE, STN_INPUT_SIZE), mode="bilinear", align_corners=False)
        raw = self.head(self.features(x)).float()
        return params_to_theta(raw), raw


def params_to_theta(raw: torch.Tensor) -> torch.Tensor:
    """(B, 7) unconstrained parameters -> (B, 3, 3) homography within the STN constraints."""
    t = torch.tanh(raw)
    angle = math.radians(MAX_ROTATION_DEG) * t[:, 0]
    sx = 1.0 + MAX_SCALE_DELTA * t[:, 1]
    sy = 1.0 + MAX_SCALE_DELTA * t[:, 2]
    tx, ty = MAX_TRANSLATION * t[:, 3], MAX_TRANSLATION * t[:, 4]
    px, py = MAX_PERSPECTIVE * t[:, 5], MAX_PERSPECTIVE * t[:, 6]
    cos, sin = torch.cos(angle), torch.sin(angle)
    one = torch.ones_like(angle)
    rows = [
        torch.stack([sx * cos, -sy * sin, tx], dim=1),
        torch.stack([sx * sin, sy * cos, ty], dim=1),
        torch.stack([px, py, one], dim=1),
    ]
    return torch.stack(rows, dim=1)


class GGNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stn = STN()
        if FUSION == "gated":
            # A per-pixel gate decides how much of the warped render the segmenter sees.
            self.gate = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(8, 1, 1), nn.Sigmoid())
        decoder = [DECODER_CHANNELS * 2 ** (ENCODER_DEPTH - 1 - i) for i in range(ENCODER_DEPTH)]
        self.segmenter = smp.Unet(
            encoder_name=ENCODER,
            encoder_weights=None,
            encoder_depth=ENCODER_DEPTH,
            decoder_channels=decoder,
            in_channels=4,
            classes=1,
        )
        self.segmenter.segmentation_head = nn.Sequential(nn.Dropout2d(DROPOUT), self.segmenter.segmentation_head)

    def forward(self, camera: torch.Tensor, render: torch.Tensor) -> GGOutput:
        theta, raw = self.stn(camera, render)
        warped = warp_to_camera(render.float(), theta).to(camera.dtype)
        # Without this cut the segmentation loss pulls the STN towards whatever helps the
        # segmenter, which fights the alignment loss.
        seg_render = warped if SEG_GRAD_TO_STN else warp_to_camera(render.float(), theta.detach()).to(camera.dtype)
        if FUSION == "gated":
            seg_render = seg_render * self.gate(torch.cat([camera, seg_render], dim=1))
        logits = self.segmenter(torch.cat([camera, seg_render], dim=1))
        return GGOutput(theta=theta, mask_logits=logits, aux={"warped": warped, "stn_raw": raw})


def grid_point_error(theta_pred: torch.Tensor, theta_gt: torch.Tensor, n: int = 5) -> torch.Tensor:
    """Per-sample mean distance between an n x n grid of points mapped by both transforms."""
    lin = torch.linspace(-1.0, 1.0, n, device=theta_pred.device)
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    pts = torch.stack([gx.flatten(), gy.flatten(), torch.ones(n * n, device=lin.device)], dim=0)  # (3, n*n)

    def mapped(theta: torch.Tensor) -> torch.Tensor:
        p = theta.float() @ pts
        return p[:, :2] / p[:, 2:].clamp(min=1e-3)

    return (mapped(theta_pred) - mapped(theta_gt)).norm(dim=1).mean(dim=1)


def jitter_render(render: torch.Tensor, theta_gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Augmentation: move the render by a random transform A; the GT becomes theta_gt @ A^-1.

    Gives the STN new alignment problems every step, so it learns to align rather than
    memorise the training set's transforms.
    """
    a = params_to_theta(torch.randn(render.shape[0], STN.N_PARAMS, device=render.device) * ALIGN_AUG)
    return warp_to_camera(render.float(), a), theta_gt.float() @ torch.linalg.inv(a)


def alignment_loss(out: GGOutput, batch: dict) -> torch.Tensor:
    """Grid-point error where the GT transform is known; else overlap with the material mask."""
    has_theta = batch["has_theta"].float()
    has_material = batch["has_material"].float() * (1.0 - has_theta)
    loss = (grid_point_error(out.theta, batch["theta"]) * has_theta).sum()
    if has_material.any():
        warped = out.aux["warped"].float()
        material = batch["material"].float()
        inter = (warped * material).flatten(1).sum(1)
        soft_dice = 2 * inter / (warped.flatten(1).sum(1) + material.flatten(1).sum(1) + 1.0)
        loss = loss + ((1.0 - soft_dice) * has_material).sum()
    return loss / max(float((has_theta + has_material).sum()), 1.0)


def make_seg_loss() -> nn.Module:
    if SEG_LOSS == "dicece":
        return DiceCELoss(sigmoid=True, batch=True)
    if SEG_LOSS == "focal":
        return DiceFocalLoss(sigmoid=True, batch=True)
    if SEG_LOSS == "bce":
        return nn.BCEWithLogitsLoss()
    raise ValueError(f"SEG_LOSS must be dicece, focal or bce, not {SEG_LOSS!r}")


def lr_factor(progress: float) -> float:
    """Learning-rate multiplier at a fraction `progress` of the budget."""
    if WARMUP > 0 and progress < WARMUP:
        return max(progress / WARMUP, 1e-3)
    p = (progress - WARMUP) / max(1.0 - WARMUP, 1e-6)
    if SCHEDULE == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(p, 1.0)))
    if SCHEDULE == "warm_restarts":
        return 0.5 * (1.0 + math.cos(math.pi * ((p / RESTART_PERIOD) % 1.0)))
    return 1.0


def train(ctx) -> nn.Module:
    device = ctx.device
    on_cuda = device.type == "cuda"
    model = GGNet().to(device)
    if on_cuda:
        model = model.to(memory_format=torch.channels_last)
    stn_params = list(model.stn.parameters())
    stn_ids = {id(p) for p in stn_params}
    other = [p for p in model.parameters() if id(p) not in stn_ids]
    opt = torch.optim.AdamW(
        [{"params": other, "lr": LR}, {"params": stn_params, "lr": STN_LR}], weight_decay=WEIGHT_DECAY
    )
    base_lrs = [LR, STN_LR]
    seg_loss_fn = make_seg_loss()
    scaler = torch.amp.GradScaler(device.type, enabled=ctx.amp_dtype == torch.float16)
    loader = ctx.loader(BATCH_SIZE)
    model.train()
    step = 0
    while not ctx.done():
        for batch in loader:
            progress = ctx.progress()  # of the time, or of the images under an images budget
            batch = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
            if ALIGN_AUG > 0:
                batch["render"], batch["theta"] = jitter_render(batch["render"], batch["theta"])
            camera, render, mask = batch["camera"], batch["render"], batch["mask"]
            if on_cuda:
                camera = camera.contiguous(memory_format=torch.channels_last)
            for group, base in zip(opt.param_groups, base_lrs):
                group["lr"] = base * lr_factor(progress)
            staged = progress < STN_WARMUP_FRACTION

            with ctx.autocast():
                out = model(camera, render)
                seg = seg_loss_fn(out.mask_logits.float(), mask)
            align = alignment_loss(out, batch)
            reg = out.aux["stn_raw"].pow(2).mean()
            seg_weight = 0.0 if staged else SEG_LOSS_WEIGHT
            loss = ALIGN_LOSS_WEIGHT * align + seg_weight * seg + STN_REG_WEIGHT * reg

            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if staged:
                # The U-Net sits the warm-up out with no gradient at all: a zero one still advances
                # AdamW's step count, so bias correction no longer scales up its second moment and its
                # first real steps come 3-5x too large (the segmenter collapsed to "no defect"), and
                # decays its weights.
                for p in other:
                    p.grad = None
            if GRAD_CLIP > 0:
                scaler.unscale_(opt)
                # Clipped apart: the U-Net's large gradient norm must not starve the STN.
                torch.nn.utils.clip_grad_norm_(other, GRAD_CLIP)
                torch.nn.utils.clip_grad_norm_(stn_params, GRAD_CLIP)
            scaler.step(opt)
            scaler.update()
            step += 1
            ctx.log(step, loss=loss, align=align, seg=seg, lr=opt.param_groups[0]["lr"], n_images=camera.shape[0])
            if ctx.done():
                break
    return model
