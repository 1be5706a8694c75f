"""Part outlines and their toolpaths (perimeters + rectilinear infill) for the synthetic dataset.

Rings are (N, 2) float arrays in millimetres. The outer ring runs counter-clockwise and holes
clockwise, so the left normal of every edge points into the material; that makes one inset
routine serve both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPE_KINDS = ("rectangle", "l_shape", "oval", "rounded", "polygon")


@dataclass
class Outline:
    kind: str
    rings: list[np.ndarray]  # rings[0] is the outer boundary, the rest are holes


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _oriented(ring: np.ndarray, ccw: bool) -> np.ndarray:
    return ring if (_signed_area(ring) > 0) == ccw else ring[::-1].copy()


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 56) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _rounded_rect(w: float, h: float, r: float, per_corner: int = 6) -> np.ndarray:
    pts = []
    corners = [(w / 2 - r, h / 2 - r, 0.0), (-w / 2 + r, h / 2 - r, 90.0), (-w / 2 + r, -h / 2 + r, 180.0), (w / 2 - r, -h / 2 + r, 270.0)]
    for cx, cy, start in corners:
        t = np.deg2rad(start + np.linspace(0.0, 90.0, per_corner))
        pts.append(np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1))
    return np.concatenate(pts)


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def random_outline(rng: np.random.Generator) -> Outline:
    """A part outline centred on the origin, 18-42 mm across, sometimes with a hole."""
    kind = SHAPE_KINDS[int(rng.integers(len(SHAPE_KINDS)))]
    w, h = rng.uniform(20.0, 40.0, size=2)
    hole = None
    if kind == "rectangle":
        outer = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    elif kind == "l_shape":
        cw, ch = w * rng.uniform(0.35, 0.55), h * rng.uniform(0.35, 0.55)
        outer = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2 - ch], [w / 2 - cw, h / 2 - ch], [w / 2 - cw, h / 2], [-w / 2, h / 2]])
    elif kind == "oval":
        outer = _ellipse(0.0, 0.0, w / 2, h / 2)
    elif kind == "rounded":
        outer = _rounded_rect(w, h, min(w, h) * rng.uniform(0.12, 0.3))
    else:
        sides = int(rng.integers(5, 9))
        t = np.linspace(0.0, 2 * np.pi, sides, endpoint=False) + rng.uniform(0, np.pi)
        outer = np.stack([w / 2 * np.cos(t), h / 2 * np.sin(t)], axis=1)
    if kind != "l_shape" and rng.random() < 0.35:
        r = min(w, h) * rng.uniform(0.12, 0.2)
        off = rng.uniform(-0.1, 0.1, size=2) * np.array([w, h])
        if rng.random() < 0.5:
            hole = _ellipse(off[0], off[1], r, r * rng.uniform(0.7, 1.0), n=32)
        else:
            hole = np.array([[-r, -r], [r, -r], [r, r], [-r, r]]) + off
    angle = rng.uniform(0, np.pi)
    rings = [_oriented(_rotate(outer, angle), ccw=True)]
    if hole is not None:
        rings.append(_oriented(_rotate(hole, angle), ccw=False))
    return Outline(kind=kind, rings=rings)


def inset_ring(ring: np.ndarray, d: float) -> np.ndarray:
    """Offset every edge by `d` towards its left (the material side), joining with mitres."""
    e = np.roll(ring, -1, axis=0) - ring
    n = np.stack([-e[:, 1], e[:, 0]], axis=1) / np.linalg.norm(e, axis=1, keepdims=True)
    n_prev = np.roll(n, 1, axis=0)
    # Mitre join: the point at distance d from both neighbouring edge lines.
    denom = 1.0 + np.sum(n * n_prev, axis=1, keepdims=True)
    return ring + d * (n + n_prev) / np.maximum(denom, 1e-6)


def closed_path(ring: np.ndarray) -> np.ndarray:
    return np.concatenate([ring, ring[:1]], axis=0)


def infill_lines(rings: list[np.ndarray], spacing: float, angle: float) -> list[np.ndarray]:
    """Rectilinear infill of the region bounded by `rings` (even-odd), as (2, 2) segments.

    Lines run along `angle`; consecutive lines alternate direction as a slicer's would.
    """
    rot = [_rotate(r, -angle) for r in rings]  # infill lines become horizontal here
    p0 = np.concatenate(rot)
    p1 = np.concatenate([np.roll(r, -1, axis=0) for r in rot])
    ymin, ymax = p0[:, 1].min(), p0[:, 1].max()
    lines: list[np.ndarray] = []
    flip = False
    for y in np.arange(ymin + spacing / 2, ymax, spacing):
        crosses = (p0[:, 1] <= y) != (p1[:, 1] <= y)
        if not np.any(crosses):
            continue
        a, b = p0[crosses], p1[crosses]
        xs = np.sort(a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1]))
        pieces = [(xs[i], xs[i + 1]) for i in range(0, len(xs) - 1, 2) if xs[i + 1] - xs[i] > spacing]
        if flip:
            pieces = [(x1, x0) for x0, x1 in reversed(pieces)]
        for x0, x1 in pieces:
            seg = np.array([[x0, y], [x1, y]])
            lines.append(_rotate(seg, angle))
        flip = not flip
    return lines


def bead_spacing(bead: float, layer_height: float) -> float:
    """Centre distance of neighbouring beads as PrusaSlicer computes it: flattened beads with
    rounded sides overlap by the rounded part, so a solid layer has no gaps between lines."""
    return bead - layer_height * (1.0 - np.pi / 4.0)


def layer_paths(outline: Outline, bead: float, infill_angle: float, *, layer_height: float = 0.2, perimeters: int = 2) -> list[np.ndarray]:
    """Extrusion paths of one solid layer: perimeters (inner first, as slicers print) then infill."""
    spacing = bead_spacing(bead, layer_height)
    paths: list[np.ndarray] = []
    for ring in outline.rings:
        for k in reversed(range(perimeters)):
            paths.append(closed_path(inset_ring(ring, bead / 2 + k * spacing)))
    inner = [inset_ring(r, bead / 2 + (perimeters - 0.5) * spacing) for r in outline.rings]
    paths.extend(infill_lines(inner, spacing, infill_angle))
    return paths
