"""The torch side of the dataset format: one split loaded for training and evaluation.

The loader decodes and resizes every image once at construction and keeps the split in memory
as uint8 tensors (a quarter of float32); items and batches are float. G-code renders come from
the render cache (ggnet.render_cache). This module imports torch: code that must start fast
without it (`gg-research data check`, the integrity fingerprint) uses ggnet.manifest and
ggnet.sample_files instead.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from gg_research.ggnet.errors import DatasetError
from gg_research.ggnet.manifest import SPLITS, Where, split_samples
from gg_research.ggnet.render_cache import cached_render
from gg_research.ggnet.sample_files import GCodeFiles, check_sample
from gg_research.ggnet.warp import render_to_camera_theta

# Keys stored as uint8 0..255 that items and batches carry as float in [0, 1]; the mask is
# stored as 0/1 and carried as float 0/1. Everything else is carried as stored.
_SCALED = ("camera", "render", "material")
_UNSCALED = ("mask",)
_TENSORS = ("camera", "render", "mask", "theta", "has_theta", "material", "has_material")
# A sample or a batch: its tensors by field name (_TENSORS), and its id (ids) under "id".
Sample = dict[str, Any]


def to_float(item: dict[str, Any]) -> dict[str, Any]:
    """A stored (uint8) item or batch as train.py and the evaluation see it; a new dict."""
    out = dict(item)
    for key in _SCALED:
        out[key] = item[key].div(255.0)  # one kernel: uint8 / float gives float32, bit-equal to float() / 255
    for key in _UNSCALED:
        out[key] = item[key].float()
    return out


def _progress(total: int, label: str):
    """A rich progress bar on a terminal; a no-op elsewhere (tests, logs)."""
    if total < 32 or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True)


def _resize_binary(mask255: np.ndarray, size: int) -> np.ndarray:
    """0/255 mask -> {0,1} uint8 at size x size (bilinear, then threshold at half)."""
    from PIL import Image

    r = Image.fromarray(mask255, "L").resize((size, size), Image.BILINEAR)
    return (np.asarray(r) >= 128).astype(np.uint8)


class GGDataset(Dataset):
    """One split of a dataset folder, resized to `image_size`, held in memory as uint8 tensors.

    Items: camera (3,S,S) float in [0,1]; render (1,S,S) in [0,1] in its own frame (the layer's
    bounds fitted with an 8 % margin); mask (1,S,S) in {0,1}; theta (3,3) normalised
    render->camera (identity when unknown) and has_theta; material (1,S,S) and has_material; id.
    Pre-rendered `render` PNGs carry no millimetre frame, so their samples have no theta.
    `stored(i)` is the same item before the float conversion; `batch_loader` batches the stored
    tensors and converts each batch once.
    """

    def __init__(
        self,
        root: Path,
        split: str,
        image_size: int,
        *,
        bead_width_mm: float = 0.45,
        cache_dir: Path | None = None,
    ):
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
        if image_size < 8:
            raise DatasetError(f"image size must be at least 8 pixels, got {image_size}")
        if not bead_width_mm > 0:
            raise DatasetError(f"bead width must be positive, got {bead_width_mm!r} mm")
        self.root = Path(root)
        self.split, self.image_size = split, int(image_size)
        self.samples = split_samples(self.root, split)
        n, size = len(self.samples), self.image_size
        self.camera = torch.zeros((n, 3, size, size), dtype=torch.uint8)
        self.render = torch.zeros((n, 1, size, size), dtype=torch.uint8)
        self.mask = torch.zeros((n, 1, size, size), dtype=torch.uint8)
        self.material = torch.zeros((n, 1, size, size), dtype=torch.uint8)
        self.theta = torch.eye(3, dtype=torch.float32).repeat(n, 1, 1)
        self.has_theta = torch.zeros(n, dtype=torch.bool)
        self.has_material = torch.zeros(n, dtype=torch.bool)
        self.ids = [s.id for s in self.samples]

        bar = _progress(n, f"loading {split} split")
        task = bar.add_task("load", total=n) if bar is not None else None
        if bar is not None:
            bar.start()
        try:
            self._load(bead_width_mm, cache_dir, bar, task)
        finally:
            if bar is not None:
                bar.stop()

    def _load(self, bead_width_mm: float, cache_dir: Path | None, bar, task) -> None:
        from PIL import Image

        size = self.image_size
        gcodes, memo = GCodeFiles(), {}
        for i, s in enumerate(self.samples):
            files = check_sample(self.root, s, gcodes, parse=False)
            image = files["image"]
            self.camera[i] = torch.from_numpy(np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR)).copy()).permute(2, 0, 1)
            self.mask[i, 0] = torch.from_numpy(_resize_binary(files["mask"], size))
            if files["material"] is not None:
                self.material[i, 0] = torch.from_numpy(_resize_binary(files["material"], size) * 255)
                self.has_material[i] = True
            if s.gcode is not None:
                where = Where.of(self.root, s)
                img, m = cached_render(functools.partial(gcodes.layer, s, where), s.gcode, s.layer, size, bead_width_mm, cache_dir, memo)
                self.render[i, 0] = torch.from_numpy(np.ascontiguousarray(img))
                if s.gcode_to_image is not None:
                    theta = render_to_camera_theta(s.gcode_to_image, (image.size[1], image.size[0]), m, size)
                    self.theta[i] = torch.from_numpy(theta.astype(np.float32))
                    self.has_theta[i] = True
            else:
                r = files["render"].convert("L").resize((size, size), Image.BILINEAR)
                self.render[i, 0] = torch.from_numpy(np.asarray(r).copy())
            if bar is not None:
                bar.advance(task)

    def __len__(self) -> int:
        return len(self.ids)

    def save(self, path: Path, fields: tuple[str, ...] = _TENSORS) -> None:
        """The split's arrays (only `fields`; the others are left out) as one .npz, no pickles."""
        arrays = {key: getattr(self, key).numpy() for key in fields}
        np.savez(path, ids=np.array(self.ids, dtype=np.str_), image_size=np.array(self.image_size), **arrays)

    @classmethod
    def load(cls, path: Path, split: str) -> GGDataset:
        """A split saved by `save`; fields it left out are zero (images) or unknown (flags)."""
        self = cls.__new__(cls)
        with np.load(path, allow_pickle=False) as z:
            self.ids = [str(i) for i in z["ids"]]
            self.image_size, self.split, self.root, self.samples = int(z["image_size"]), split, Path(path), []
            n, size = len(self.ids), self.image_size
            blank = {"camera": (3, size, size), "render": (1, size, size), "mask": (1, size, size),
                     "material": (1, size, size)}
            for key in _TENSORS:
                if key in z.files:
                    setattr(self, key, torch.from_numpy(z[key].copy()))
                elif key in blank:
                    setattr(self, key, torch.zeros((n, *blank[key]), dtype=torch.uint8))
                elif key == "theta":
                    self.theta = torch.eye(3, dtype=torch.float32).repeat(n, 1, 1)
                else:
                    setattr(self, key, torch.zeros(n, dtype=torch.bool))
        return self

    def stored(self, i: int) -> dict[str, Any]:
        """Item `i` as stored (uint8 images, views of the split's tensors)."""
        return {
            "camera": self.camera[i],
            "render": self.render[i],
            "mask": self.mask[i],
            "theta": self.theta[i].clone(),
            "has_theta": self.has_theta[i].clone(),
            "material": self.material[i],
            "has_material": self.has_material[i].clone(),
            "id": self.ids[i],
        }

    def __getitem__(self, i: int) -> dict[str, Any]:
        return to_float(self.stored(i))


class _StoredBatches(Dataset):
    """A GGDataset read a batch at a time: one gather per tensor instead of one item per index
    (DataLoader calls __getitems__ when it batches), still uint8 until the loader's to_float."""

    def __init__(self, dataset: GGDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.dataset.stored(i)

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        d, idx = self.dataset, torch.as_tensor(indices, dtype=torch.long)
        # index_select, not t[idx]: advanced indexing is ~20x slower on these uint8 tensors.
        batch: dict[str, Any] = {key: getattr(d, key).index_select(0, idx) for key in _TENSORS}
        batch["id"] = [d.ids[i] for i in indices]
        return batch


def batch_loader(dataset: Dataset, batch_size: int, **kw: Any) -> DataLoader:
    """A DataLoader yielding float batches; over a GGDataset it gathers the uint8 batch and
    converts it once. A caller's own collate_fn gets the float items, as from any Dataset."""
    if isinstance(dataset, GGDataset) and "collate_fn" not in kw:
        return DataLoader(_StoredBatches(dataset), batch_size=batch_size, collate_fn=to_float, **kw)
    return DataLoader(dataset, batch_size=batch_size, **kw)
