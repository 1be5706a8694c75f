"""Rendering a layer's toolpath to a grey image: 255 where the nozzle laid material.

Pixel convention (shared with `ggnet.warp`): pixel centres lie at integer coordinates, column
0..W-1 left to right, row 0..H-1 top to bottom; printer +Y points up in the image.

Each extruding segment is drawn as a bead of the given width with round caps (a capsule), so
the joins of a path are closed. Coverage comes from the exact distance of each pixel centre to
the segments, so bead widths and positions are sub-pixel accurate and edges anti-aliased.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gg_research.ggnet.errors import GCodeError
from gg_research.ggnet.gcode_layers import Layer

@dataclass
class Render:
    """A rendered layer and the map from printer millimetres to its pixels."""

    image: np.ndarray
    mm_to_px: np.ndarray


def _hw(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        h = w = int(size)
    else:
        h, w = (int(v) for v in size)
    if h < 1 or w < 1:
        raise ValueError(f"image size must be positive, got {size!r}")
    return h, w


def frame_for(
    bounds: tuple[float, float, float, float], size: int | tuple[int, int], margin: float = 0.08
) -> np.ndarray:
    """The 3x3 mm->px matrix that fits `bounds` (xmin, ymin, xmax, ymax) into an image of `size`.

    The box is grown by `margin` times its larger side on every side, scaled uniformly (aspect
    ratio kept) so it just fits the image's pixel extent [-0.5, W-0.5] x [-0.5, H-0.5], and
    centred. `size` int is square; a tuple is (height, width).
    """
    h, w = _hw(size)
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    if not (xmax >= xmin and ymax >= ymin) or not np.isfinite([xmin, ymin, xmax, ymax]).all():
        raise ValueError(f"bounds must be finite (xmin, ymin, xmax, ymax) with min <= max, got {bounds!r}")
    side = max(xmax - xmin, ymax - ymin)
    if side <= 0.0:
        side = 1.0  # a single point: show 1 mm around it rather than divide by zero
    span_x = (xmax - xmin) + 2.0 * margin * side
    span_y = (ymax - ymin) + 2.0 * margin * side
    scale = min(w / span_x if span_x > 0 else np.inf, h / span_y if span_y > 0 else np.inf)
    if not np.isfinite(scale):
        scale = min(w, h) / (side * (1.0 + 2.0 * margin))
    cx, cy = (xmin + xmax) / 2.0, (ymin + ymax) / 2.0
    return np.array(
        [
            [scale, 0.0, (w - 1) / 2.0 - scale * cx],
            [0.0, -scale, (h - 1) / 2.0 + scale * cy],
            [0.0, 0.0, 1.0],
        ],
        dtype=np.float64,
    )


def render_layer(
    layer: Layer,
    size: int | tuple[int, int],
    *,
    bead_width_mm: float = 0.45,
    mm_to_px: np.ndarray | None = None,
    margin: float = 0.08,
) -> Render:
    """Draw `layer`'s extruding segments as beads `bead_width_mm` wide into a (H, W) uint8 image.

    `mm_to_px` None frames the layer's own bounds (`frame_for(layer.bounds, size, margin)`);
    pass one to draw several layers or files in the same frame. It must be affine (the
    renderer draws beads of one width everywhere).
    """
    h, w = _hw(size)
    if not 0.0 < bead_width_mm < np.inf:
        raise GCodeError(f"bead width must be a positive number, got {bead_width_mm!r} mm")
    m = frame_for(layer.bounds, (h, w), margin) if mm_to_px is None else np.asarray(mm_to_px, dtype=np.float64)
    if m.shape != (3, 3) or not np.allclose(m[2], [0.0, 0.0, 1.0]):
        raise ValueError("mm_to_px must be a 3x3 affine matrix (last row 0, 0, 1)")
    image = _draw(np.asarray(layer.segments, dtype=np.float64).reshape(-1, 4), m, h, w, bead_width_mm)
    return Render(image=image, mm_to_px=m)


def _draw(segments: np.ndarray, m: np.ndarray, h: int, w: int, bead_width_mm: float) -> np.ndarray:
    """Coverage of the union of capsules (segments with round caps), anti-aliased.

    Each segment is cut into short pieces; every piece evaluates its exact distance field on a
    small pixel window around it, in numpy batches, and a pixel keeps the largest coverage any
    piece gives it. Coverage is the bead radius minus the distance, clipped to a one-pixel ramp,
    which is the box-filtered edge of a locally straight boundary.

    Memory stays bounded whatever the input: segments are first clipped to the image (grown by
    the bead), so no piece lies where it cannot colour a pixel, and pieces are made batch by
    batch rather than all at once.
    """
    a = segments[:, 0:2] @ m[:2, :2].T + m[:2, 2]
    b = segments[:, 2:4] @ m[:2, :2].T + m[:2, 2]
    px_per_mm = float(np.sqrt(abs(np.linalg.det(m[:2, :2]))))
    radius = bead_width_mm * px_per_mm / 2.0
    a, b = _clip(a, b, -radius - 2.0, w - 1 + radius + 2.0, h - 1 + radius + 2.0)
    out = np.zeros(h * w, dtype=np.float32)
    if len(a) == 0:
        return out.reshape(h, w).astype(np.uint8)

    piece = max(2.0, radius)  # longest piece, px: windows stay small, pieces stay few
    n = np.maximum(1, np.ceil(np.hypot(*(b - a).T) / piece)).astype(np.int64)
    size = int(np.ceil(piece + 2.0 * radius + 3.0))
    off = np.arange(size, dtype=np.float64)
    ox, oy = np.meshgrid(off, off)
    ox, oy = ox.ravel(), oy.ravel()
    chunk = max(1, 4_000_000 // (size * size))  # pieces per batch
    for pa, pb in _pieces(a, b, n, chunk):
        origin = np.floor(np.minimum(pa, pb) - radius - 1.0)
        gx = origin[:, 0:1] + ox  # (pieces, window) pixel centres
        gy = origin[:, 1:2] + oy
        vx, vy = (pb - pa).T
        vv = vx * vx + vy * vy
        vv[vv == 0.0] = 1.0
        rx = gx - pa[:, 0:1]
        ry = gy - pa[:, 1:2]
        t = np.clip((rx * vx[:, None] + ry * vy[:, None]) / vv[:, None], 0.0, 1.0)
        dist = np.hypot(rx - t * vx[:, None], ry - t * vy[:, None])
        cov = np.clip(radius + 0.5 - dist, 0.0, 1.0).astype(np.float32)
        inside = (gx >= 0) & (gx <= w - 1) & (gy >= 0) & (gy <= h - 1) & (cov > 0.0)
        idx = (gy[inside] * w + gx[inside]).astype(np.int64)
        np.maximum.at(out, idx, cov[inside])
    return np.rint(out * 255.0).astype(np.uint8).reshape(h, w)


def _clip(a: np.ndarray, b: np.ndarray, low: float, high_x: float, high_y: float) -> tuple[np.ndarray, np.ndarray]:
    """The parts of segments a->b inside the box [low, high_x] x [low, high_y] (Liang-Barsky)."""
    d = b - a
    t0 = np.zeros(len(a))
    t1 = np.ones(len(a))
    keep = np.ones(len(a), dtype=bool)
    for axis, high in ((0, high_x), (1, high_y)):
        dk, ak = d[:, axis], a[:, axis]
        flat = dk == 0.0
        keep &= ~flat | ((ak >= low) & (ak <= high))
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = (low - ak) / dk
            tb = (high - ak) / dk
        t0 = np.where(flat, t0, np.maximum(t0, np.minimum(ta, tb)))
        t1 = np.where(flat, t1, np.minimum(t1, np.maximum(ta, tb)))
    keep &= t0 <= t1
    a, d, t0, t1 = a[keep], d[keep], t0[keep, None], t1[keep, None]
    # Unclipped ends stay exactly where they were (t 0 and 1), so shared joints stay shared.
    return np.where(t0 > 0.0, a + t0 * d, a), np.where(t1 < 1.0, a + t1 * d, a + d)


def _pieces(a: np.ndarray, b: np.ndarray, n: np.ndarray, chunk: int):
    """(start points, end points) of the pieces (segment i cut into n[i]), about `chunk` at a time."""
    ends = np.cumsum(n)
    first = 0
    while first < len(a):
        done = ends[first - 1] if first else 0
        last = max(first + 1, int(np.searchsorted(ends, done + chunk, side="right")))
        count = n[first:last]
        seg_of = np.repeat(np.arange(first, last), count)
        k = np.arange(len(seg_of)) - np.repeat(np.cumsum(count) - count, count)
        t0 = (k / n[seg_of])[:, None]
        t1 = ((k + 1) / n[seg_of])[:, None]
        d = b[seg_of] - a[seg_of]
        pa, pb = a[seg_of] + t0 * d, a[seg_of] + t1 * d
        for start in range(0, len(pa), chunk):  # one segment may alone exceed a batch
            yield pa[start : start + chunk], pb[start : start + chunk]
        first = last
