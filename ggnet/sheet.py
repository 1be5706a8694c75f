"""Contact sheet of a dataset: what the camera saw, what is labelled a defect, where the G-code lies.

One row per sample, three pictures: the camera image; the image with its defect mask in red;
the image with the G-code render warped by the manifest's ground-truth transform in green (the
plain render, unwarped, when the sample has only a pre-rendered `render` PNG or no transform).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from gg_research.ggnet.manifest import MANIFEST, read_manifest
from gg_research.ggnet.render_cache import RENDER_MARGIN
from gg_research.ggnet.sample_files import GCodeFiles, check_sample
from gg_research.ggnet.errors import DatasetError

LABEL_PX = 14
RED, GREEN = np.array([255, 40, 40]), np.array([40, 255, 90])


def _tint(image: np.ndarray, where: np.ndarray, colour: np.ndarray, alpha: float) -> np.ndarray:
    out = image.astype(np.float32)
    out[where] = (1 - alpha) * out[where] + alpha * colour
    edge = where & ~ndimage.binary_erosion(where)
    out[edge] = colour
    return np.round(out).astype(np.uint8)


def warped_render(layer, image_hw: tuple[int, int], gcode_to_image: np.ndarray, bead_width_mm: float) -> np.ndarray:
    """The layer's render in the camera frame (uint8, image_hw): what a perfect alignment shows."""
    from gg_research.ggnet.render import render_layer

    h, w = image_hw
    r = render_layer(layer, (h, w), bead_width_mm=bead_width_mm, margin=RENDER_MARGIN)
    cam_to_render = np.linalg.inv(gcode_to_image @ np.linalg.inv(r.mm_to_px))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    p = np.stack([xs, ys, np.ones_like(xs)], -1) @ cam_to_render.T
    src = p[..., :2] / p[..., 2:3]
    return ndimage.map_coordinates(r.image.astype(np.float32), [src[..., 1], src[..., 0]], order=1, cval=0.0).astype(np.uint8)


def _title(root: Path) -> str:
    info = root / "synth.json"
    if info.is_file():
        try:
            meta = json.loads(info.read_text(encoding="utf-8"))
            return f"{root.name}: synthetic, preset {meta.get('preset', 'easy')}, seed {meta.get('seed')}, {meta.get('size')} px"
        except (ValueError, OSError):
            pass
    return root.name


def contact_sheet(root: Path, out: Path, *, n: int = 8, tile: int = 192, bead_width_mm: float = 0.45) -> int:
    """Write the contact sheet of the first `n` samples of the dataset at `root` to `out` (PNG).

    Returns the number of samples shown. Problems with the data are one-line DatasetErrors.
    """
    root = Path(root)
    samples = read_manifest(root)[:n]
    rows_raw = {}
    for line in (root / MANIFEST).read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            rows_raw[rec["id"]] = rec
    gcodes = GCodeFiles()
    rows = []
    for s in samples:
        files = check_sample(root, s, gcodes)
        image = np.asarray(files["image"].convert("RGB"))
        h, w = image.shape[:2]
        mask = np.asarray(Image.fromarray(files["mask"]).resize((w, h), Image.NEAREST)) > 127
        if files["layer"] is not None and s.gcode_to_image is not None:
            render = warped_render(files["layer"], (h, w), s.gcode_to_image, bead_width_mm)
            note = "G-code warped by the GT transform"
        elif files["layer"] is not None:
            from gg_research.ggnet.render import render_layer

            render = render_layer(files["layer"], (h, w), bead_width_mm=bead_width_mm, margin=RENDER_MARGIN).image
            note = "G-code render, no transform known"
        else:
            render = np.asarray(files["render"].convert("L").resize((w, h), Image.BILINEAR))
            note = "pre-rendered, no transform known"
        pictures = [image, _tint(image, mask, RED, 0.5), _tint(image, render >= 128, GREEN, 0.35)]
        big = [np.asarray(Image.fromarray(p).resize((tile, tile), Image.NEAREST)) for p in pictures]
        defects = rows_raw.get(s.id, {}).get("defects")
        label = f"{s.id} ({s.split})  defects: {', '.join(defects) if defects else ('none' if defects is not None else '?')}  |  {note}"
        rows.append((label, np.concatenate(big, axis=1)))
    if not rows:
        raise DatasetError(f"{root / MANIFEST}: no samples to show")
    width = 3 * tile
    sheet = Image.new("RGB", (width, LABEL_PX + len(rows) * (tile + LABEL_PX)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 1), _title(root) + "  -  image | defect mask (red) | G-code (green)", fill=(0, 0, 0))
    y = LABEL_PX
    for label, strip in rows:
        draw.text((4, y + 1), label, fill=(0, 0, 0))
        sheet.paste(Image.fromarray(strip), (0, y + LABEL_PX))
        y += tile + LABEL_PX
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return len(rows)
