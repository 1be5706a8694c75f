"""The dataset format of DESIGN.md: reading, validating and loading it for training.

A dataset folder holds `manifest.jsonl` (one sample a line) and the files it names, by paths
relative to the folder: the camera image, the defect mask, the G-code (or a pre-rendered
`render` PNG), optionally the printed-material mask. Every problem is a one-line DatasetError
naming the manifest, the line and the sample id, so a user can fix their own data.

The loader decodes and resizes every image once at construction and keeps the split in memory
as uint8 tensors; G-code renders are cached on disk under `cache_dir`, keyed by the G-code bytes
and the render parameters, so a second process (the harness after train.py) reuses them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import sys
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np

from gg_research.ggnet.dataset_guards import binary_mask, check_inside, check_manifest_inside, open_image
from gg_research.ggnet.errors import DatasetError

MANIFEST = "manifest.jsonl"
SPLITS = ("train", "val", "test")
REQUIRED_KEYS = ("id", "image", "mask", "split")
PATH_KEYS = ("image", "mask", "gcode", "render", "material_mask")
RENDER_MARGIN = 0.08
# Part of the render cache key: bump when the render convention of the loader changes.
RENDER_CACHE_VERSION = 1


@dataclass
class Sample:
    """One manifest line, with paths resolved against the dataset folder."""

    id: str
    image: Path
    mask: Path
    gcode: Path | None
    render: Path | None
    layer: int
    split: str
    gcode_to_image: np.ndarray | None
    material_mask: Path | None
    line: int


class _Where:
    """Formats `manifest.jsonl: line N: sample 'id': problem` messages."""

    def __init__(self, manifest: Path, line: int, sid: str | None = None):
        self.manifest, self.line, self.sid = manifest, line, sid

    def error(self, problem: str) -> DatasetError:
        who = f" (sample {self.sid!r})" if self.sid is not None else ""
        return DatasetError(f"{self.manifest}: line {self.line}{who}: {problem}")


def _where(root: Path, s: Sample) -> _Where:
    return _Where(root / MANIFEST, s.line, s.id)


def _dataset_path(root: Path, value: Any, key: str, where: _Where) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"'{key}' must be a non-empty relative path, got {value!r}")
    rel = posixpath.normpath(value.replace("\\", "/"))
    if rel.startswith("/") or PureWindowsPath(value).drive or rel == ".." or rel.startswith("../"):
        raise where.error(f"'{key}' path {value!r} escapes the dataset folder (use a path inside {root})")
    check_inside(root, root / rel, key, where)
    return root / rel


def _homography(value: Any, where: _Where) -> np.ndarray | None:
    if value is None:
        return None
    try:
        h = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise where.error("'gcode_to_image' must be a 3x3 list of numbers") from None
    if h.shape != (3, 3):
        raise where.error(f"'gcode_to_image' must be 3x3, got shape {list(h.shape)}")
    if not np.isfinite(h).all() or abs(np.linalg.det(h)) < 1e-12:
        raise where.error("'gcode_to_image' must be finite and invertible")
    return h


def _parse_line(root: Path, text: str, where: _Where) -> Sample:
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise where.error(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(rec, dict):
        raise where.error(f"a line must be a JSON object, got {type(rec).__name__}")
    sid = rec.get("id")
    if not isinstance(sid, str) or not sid:
        raise where.error(f"'id' must be a non-empty string, got {sid!r}")
    where.sid = sid
    for key in REQUIRED_KEYS:
        if key not in rec:
            raise where.error(f"missing key '{key}'")
    if rec.get("gcode") is None and rec.get("render") is None:
        raise where.error("needs 'gcode' (with 'layer') or a pre-rendered 'render'")
    split = rec["split"]
    if split not in SPLITS:
        raise where.error(f"'split' must be one of {', '.join(SPLITS)}, got {split!r}")
    if rec.get("gcode") is not None and "layer" not in rec:
        raise where.error("missing key 'layer' (the layer index of the G-code that the image shows)")
    layer = rec.get("layer", 0)
    if not isinstance(layer, int) or isinstance(layer, bool) or layer < 0:
        raise where.error(f"'layer' must be a whole number >= 0, got {layer!r}")
    paths = {k: (_dataset_path(root, rec[k], k, where) if rec.get(k) is not None else None) for k in PATH_KEYS}
    return Sample(
        id=sid,
        image=paths["image"],
        mask=paths["mask"],
        gcode=paths["gcode"],
        render=paths["render"],
        layer=layer,
        split=split,
        gcode_to_image=_homography(rec.get("gcode_to_image"), where),
        material_mask=paths["material_mask"],
        line=where.line,
    )


def _manifest_lines(root: Path) -> list[tuple[int, str]]:
    root = Path(root)
    manifest = root / MANIFEST
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    if not manifest.is_file():
        raise DatasetError(f"{root}: no {MANIFEST} (a dataset folder holds manifest.jsonl, images/, masks/, gcode/)")
    check_manifest_inside(root, manifest)
    try:
        text = manifest.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DatasetError(f"{manifest}: not UTF-8 text") from None
    return [(i, line) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]


def read_manifest(root: Path) -> list[Sample]:
    """Parse and check every line of `root/manifest.jsonl` (no files opened)."""
    root = Path(root)
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for number, text in _manifest_lines(root):
        where = _Where(root / MANIFEST, number)
        s = _parse_line(root, text, where)
        if s.id in seen:
            raise where.error(f"duplicate id (first on line {seen[s.id]})")
        seen[s.id] = number
        samples.append(s)
    if not samples:
        raise DatasetError(f"{root / MANIFEST}: no samples (the manifest is empty)")
    return samples


# --- opening files -----------------------------------------------------------------------------


# Decoding with a pixel limit and strict masks live in dataset_guards.
_open_image, _binary_mask = open_image, binary_mask


class _GCodeFiles:
    """Parses each G-code file once and turns parser errors into sample-naming errors."""

    def __init__(self) -> None:
        self._programs: dict[Path, Any] = {}

    def layer(self, s: Sample, where: _Where):
        from gg_research.ggnet.errors import GCodeError
        from gg_research.ggnet.gcode import parse_gcode

        assert s.gcode is not None
        if not s.gcode.is_file():
            raise where.error(f"G-code file {s.gcode} does not exist")
        program = self._programs.get(s.gcode)
        if program is None:
            try:
                program = parse_gcode(s.gcode)
            except GCodeError as exc:
                raise where.error(str(exc)) from None
            self._programs[s.gcode] = program
        n = len(program.layers)
        if s.layer >= n:
            raise where.error(f"layer {s.layer} of {s.gcode} has no extrusion (the file has {n} extruding layers, 0..{n - 1})")
        layer = program.layer(s.layer)
        if len(layer.segments) == 0:
            raise where.error(f"layer {s.layer} of {s.gcode} has no extrusion")
        return layer


def _check_sample(root: Path, s: Sample, gcodes: _GCodeFiles, *, parse: bool = True) -> dict[str, Any]:
    """Open every file of `s`; return the decoded images (PIL) for the loader.

    `parse=False` only checks that the G-code file exists: the loader parses it (and checks the
    layer) only when its render is not cached, since a cached render proves the layer was valid.
    """
    where = _where(root, s)
    image = _open_image(s.image, "image", where)
    mask_im = _open_image(s.mask, "mask", where)
    if mask_im.size != image.size:
        raise where.error(f"mask {s.mask} is {mask_im.size[0]}x{mask_im.size[1]} but the image is {image.size[0]}x{image.size[1]}")
    mask = _binary_mask(mask_im, "mask", s.mask, where)
    out: dict[str, Any] = {"image": image, "mask": mask, "material": None, "render": None, "layer": None}
    if s.material_mask is not None:
        mat_im = _open_image(s.material_mask, "material mask", where)
        if mat_im.size != image.size:
            raise where.error(f"material mask {s.material_mask} is {mat_im.size[0]}x{mat_im.size[1]} but the image is {image.size[0]}x{image.size[1]}")
        out["material"] = _binary_mask(mat_im, "material mask", s.material_mask, where)
    if s.gcode is not None:
        if parse:
            out["layer"] = gcodes.layer(s, where)
        elif not s.gcode.is_file():
            raise where.error(f"G-code file {s.gcode} does not exist")
    else:
        out["render"] = _open_image(s.render, "render", where)
    return out


def validate_dataset(root: Path, *, bead_width_mm: float = 0.45) -> list[Sample]:
    """`read_manifest` plus opening every file: raises the first problem as a DatasetError."""
    if not bead_width_mm > 0:
        raise DatasetError(f"bead width must be positive, got {bead_width_mm!r} mm")
    root = Path(root)
    samples = read_manifest(root)
    gcodes = _GCodeFiles()
    for s in samples:
        _check_sample(root, s, gcodes)
    return samples


def split_fingerprint(root: Path, split: str) -> str:
    """sha256 over a split's manifest lines and the bytes of every file they name."""
    root = Path(root)
    lines = dict(_manifest_lines(root))
    chosen = [s for s in read_manifest(root) if s.split == split]
    if not chosen:
        raise DatasetError(f"{root / MANIFEST}: no samples in split {split!r}")
    h = hashlib.sha256()
    for s in chosen:
        h.update(lines[s.line].strip().encode("utf-8") + b"\n")
        for path in (s.image, s.mask, s.gcode, s.render, s.material_mask):
            if path is None:
                continue
            try:
                h.update(hashlib.sha256(path.read_bytes()).digest())
            except OSError:
                raise _where(root, s).error(f"cannot read {path}") from None
    return h.hexdigest()


def mask_has_defect(path: Path) -> bool:
    """Whether a (valid) mask marks any pixel; used by `data check` for the defect share."""
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im.convert("L"))
    return bool((a >= (128 if a.max(initial=0) > 1 else 1)).any())


# --- rendering with an on-disk cache -----------------------------------------------------------


def _render_key(gcode_bytes: bytes, layer: int, size: int, bead: float) -> str:
    h = hashlib.sha256(gcode_bytes)
    h.update(f"|layer={layer}|size={size}|bead={bead!r}|margin={RENDER_MARGIN!r}|v={RENDER_CACHE_VERSION}".encode())
    return h.hexdigest()[:32]


def cached_render(
    layer_fn, gcode_path: Path, layer: int, size: int, bead: float, cache_dir: Path | None, memo: dict
) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 (S, S), mm_to_px 3x3) of a G-code layer, from memory, disk cache or the renderer.

    `layer_fn()` returns the parsed Layer; it is only called on a cache miss.
    """
    from gg_research.ggnet.render import render_layer

    key = _render_key(gcode_path.read_bytes(), layer, size, bead)
    if key in memo:
        return memo[key]
    path = Path(cache_dir) / f"render-{key}.npz" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as z:
                memo[key] = (z["image"], z["mm_to_px"])
                return memo[key]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is re-rendered and replaced
    r = render_layer(layer_fn(), size, bead_width_mm=bead, margin=RENDER_MARGIN)
    memo[key] = (r.image, r.mm_to_px)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, image=r.image, mm_to_px=r.mm_to_px)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
    return memo[key]


def resize_scale(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> np.ndarray:
    """Pixel map (col, row, 1) of an image resized from src to dst (pixel centres at integers).

    A resize maps pixel areas: the edge -0.5 stays at -0.5 and W-0.5 goes to W'-0.5.
    """
    sy, sx = dst_hw[0] / src_hw[0], dst_hw[1] / src_hw[1]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def render_to_camera_theta(
    gcode_to_image: np.ndarray, image_hw: tuple[int, int], mm_to_px_render: np.ndarray, size: int
) -> np.ndarray:
    """Normalised render->camera theta for a render and a camera image both resized to size x size."""
    from gg_research.ggnet.warp import pixel_homography_to_norm

    h = resize_scale(image_hw, (size, size)) @ gcode_to_image @ np.linalg.inv(mm_to_px_render)
    return pixel_homography_to_norm(h, (size, size), (size, size))


# --- the torch dataset -------------------------------------------------------------------------


def _progress(total: int, label: str):
    """A rich progress bar on a terminal; a no-op elsewhere (tests, logs)."""
    if total < 32 or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    return bar


class _GGDatasetImpl:
    """One split of a dataset folder, resized to `image_size`, held in memory as uint8 tensors.

    Items: camera (3,S,S) in [0,1]; render (1,S,S) in [0,1] in its own frame (the layer's
    bounds fitted with an 8 % margin); mask (1,S,S) in {0,1}; theta (3,3) normalised
    render->camera (identity when unknown) and has_theta; material (1,S,S) and has_material; id.
    Pre-rendered `render` PNGs carry no millimetre frame, so their samples have no theta.
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
        import torch
        from PIL import Image

        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
        if image_size < 8:
            raise DatasetError(f"image size must be at least 8 pixels, got {image_size}")
        if not bead_width_mm > 0:
            raise DatasetError(f"bead width must be positive, got {bead_width_mm!r} mm")
        self.root = Path(root)
        self.split, self.image_size = split, int(image_size)
        self.samples = [s for s in read_manifest(self.root) if s.split == split]
        if not self.samples:
            raise DatasetError(f"{self.root / MANIFEST}: no samples in split {split!r}")
        n, size = len(self.samples), self.image_size
        self.camera = torch.zeros((n, 3, size, size), dtype=torch.uint8)
        self.render = torch.zeros((n, 1, size, size), dtype=torch.uint8)
        self.mask = torch.zeros((n, 1, size, size), dtype=torch.uint8)
        self.material = torch.zeros((n, 1, size, size), dtype=torch.uint8)
        self.theta = torch.eye(3, dtype=torch.float32).repeat(n, 1, 1)
        self.has_theta = torch.zeros(n, dtype=torch.bool)
        self.has_material = torch.zeros(n, dtype=torch.bool)
        self.ids = [s.id for s in self.samples]

        gcodes, memo = _GCodeFiles(), {}
        bar = _progress(n, f"loading {split} split")
        task = bar.add_task("load", total=n) if bar is not None else None
        if bar is not None:
            bar.start()
        try:
            for i, s in enumerate(self.samples):
                files = _check_sample(self.root, s, gcodes, parse=False)
                image = files["image"]
                self.camera[i] = torch.from_numpy(np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR)).copy()).permute(2, 0, 1)
                self.mask[i, 0] = torch.from_numpy(_resize_binary(files["mask"], size))
                if files["material"] is not None:
                    self.material[i, 0] = torch.from_numpy(_resize_binary(files["material"], size) * 255)
                    self.has_material[i] = True
                if s.gcode is not None:
                    where = _where(self.root, s)
                    img, m = cached_render(lambda: gcodes.layer(s, where), s.gcode, s.layer, size, bead_width_mm, cache_dir, memo)
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
        finally:
            if bar is not None:
                bar.stop()

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict:
        import torch

        return {
            "camera": self.camera[i].float().div_(255.0),
            "render": self.render[i].float().div_(255.0),
            "mask": self.mask[i].float(),
            "theta": self.theta[i].clone(),
            "has_theta": self.has_theta[i].clone(),
            "material": self.material[i].float().div_(255.0),
            "has_material": self.has_material[i].clone(),
            "id": self.ids[i],
        }


def _resize_binary(mask255: np.ndarray, size: int) -> np.ndarray:
    """0/255 mask -> {0,1} uint8 at size x size (bilinear, then threshold at half)."""
    from PIL import Image

    r = Image.fromarray(mask255, "L").resize((size, size), Image.BILINEAR)
    return (np.asarray(r) >= 128).astype(np.uint8)


def __getattr__(name: str):
    # GGDataset subclasses torch's Dataset, but importing this module (e.g. for `data check`)
    # must not import torch; the class is built on first use and then cached as a module global.
    if name == "GGDataset":
        from torch.utils.data import Dataset

        cls = type("GGDataset", (_GGDatasetImpl, Dataset), {"__module__": __name__, "__doc__": _GGDatasetImpl.__doc__})
        globals()["GGDataset"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
