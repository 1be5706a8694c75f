"""Shared helpers of the harness and template tests: an in-memory stand-in dataset with the
GGDataset item format, a template copy with tiny constants, and a TrainContext on it."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import torch

from gg_research.ggnet.warp import warp_to_camera

TEMPLATE = Path(__file__).resolve().parents[2] / "ggnet" / "templates" / "train.py"

# Small enough for 2 shared CPU cores: a depth-3 U-Net with narrow decoder at 64 px.
TINY = {
    "ENCODER_DEPTH": "3",
    "DECODER_CHANNELS": "8",
    "STN_CHANNELS": "8",
    "STN_INPUT_SIZE": "32",
    "BATCH_SIZE": "4",
}


def standin_items(n: int, size: int = 64, seed: int = 0) -> list[dict]:
    """Stripe renders, camera = render warped by a random small transform + noise, blob masks."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        render = torch.zeros(1, 1, size, size)
        period = int(torch.randint(4, 8, (1,), generator=g))
        a, b = int(size * 0.2), int(size * 0.8)
        render[..., a:b, a:b] = 0.0
        for y in range(a, b, period):
            render[..., y : y + 2, a:b] = 1.0
        render[..., a : a + 2, a:b] = 1.0
        render[..., a:b, a : a + 2] = 1.0
        theta = torch.eye(3)
        theta[:2, 2] = (torch.rand(2, generator=g) - 0.5) * 0.2
        ang = float((torch.rand(1, generator=g) - 0.5) * 0.2)
        theta[0, 0] = theta[1, 1] = torch.cos(torch.tensor(ang))
        theta[0, 1], theta[1, 0] = -torch.sin(torch.tensor(ang)), torch.sin(torch.tensor(ang))
        cam1 = warp_to_camera(render, theta[None])[0]
        mask = torch.zeros(1, size, size)
        if i % 3:
            cy, cx = (torch.randint(size // 4, 3 * size // 4, (2,), generator=g)).tolist()
            mask[:, cy - 4 : cy + 4, cx - 4 : cx + 4] = 1.0
        camera = (0.3 + 0.5 * cam1 - 0.25 * mask).clamp(0, 1).repeat(3, 1, 1)
        camera = (camera + 0.03 * torch.randn(camera.shape, generator=g)).clamp(0, 1)
        items.append(
            {
                "camera": camera.float(),
                "render": render[0].float(),
                "mask": mask,
                "theta": theta.float(),
                "has_theta": True,
                "material": (cam1 > 0.5).float(),
                "has_material": False,
                "id": f"s{i:04d}",
            }
        )
    return items


def template_source(overrides: dict[str, str] | None = None, source: str | None = None) -> str:
    """The template's text with some UPPERCASE constants replaced (values as Python source)."""
    text = source if source is not None else TEMPLATE.read_text(encoding="utf-8")
    for name, value in (overrides or {}).items():
        text, n = re.subn(rf"^{name} = [^#\n]*", f"{name} = {value}  ", text, count=1, flags=re.M)
        if n != 1:
            raise KeyError(name)
    return text


def load_template(path: Path, overrides: dict[str, str] | None = None, name: str = "tpl_under_test"):
    path.write_text(template_source(overrides), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def make_ctx(items: list[dict], budget_s: float, tmp: Path, seed: int = 0):
    from gg_research.harness.context import TrainContext

    return TrainContext(
        device=torch.device("cpu"), seed=seed, image_size=items[0]["camera"].shape[-1],
        train_dataset=items, budget_s=budget_s, run_dir=tmp, log_interval_s=1.0,
    )


def synthetic_dataset(cache_root: Path) -> Path:
    """The real synthetic dataset, tiny: 24 samples of 64 px (generated once per cache folder)."""
    from gg_research.ggnet.synth import ensure_synthetic

    return Path(ensure_synthetic(cache_root, 24, 64, 0))


def make_workspace(
    path: Path,
    dataset: Path,
    *,
    train_source: str | None = None,
    budget_s: float = 3.0,
    extra_run: str = "",
) -> Path:
    """A workspace folder (no git needed by the harness) training `train_source` (default: the tiny template)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "train.py").write_text(train_source if train_source is not None else template_source(TINY), encoding="utf-8")
    (path / "gg-research.toml").write_text(
        f'[data]\ndataset = "{dataset}"\nimage_size = 64\n\n'
        f'[run]\nbudget_s = {budget_s}\ndevice = "cpu"\neval_batch_size = 16\n{extra_run}\n',
        encoding="utf-8",
    )
    return path


def make_step_ctx(items: list[dict], steps: int, tmp: Path, seed: int = 0, batch_size: int = int(TINY["BATCH_SIZE"])):
    """A context with an images budget of `steps` batches, so a learning test does not depend on
    how busy the machine is; the clock is never started, so time never ends it."""
    from gg_research.harness.context import TrainContext

    return TrainContext(
        device=torch.device("cpu"), seed=seed, image_size=items[0]["camera"].shape[-1],
        train_dataset=items, budget_s=1e9, budget_images=steps * batch_size, run_dir=tmp, log_interval_s=2.0,
    )
