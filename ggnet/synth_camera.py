"""Simulated camera image of a printed top layer, with planted defects and their masks.

Everything is computed on a 2x supersampled camera grid whose every pixel knows its printer
millimetre coordinates (through the inverse of the ground-truth homography), so defects, bead
stripes and the material are placed in millimetres and the mask marks exactly the pixels whose
appearance the defect changed. The grid is then box-filtered down to the output size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from gg_research.ggnet.synth_shapes import bead_spacing
from gg_research.ggnet.warp import pixel_to_norm

SUPERSAMPLE = 2
DEFECT_KINDS = ("gap", "blob", "stringing", "hole")

# Plausible filament and bed colours (linear RGB in [0, 1]); pairs too alike are rejected.
MATERIALS = [(0.92, 0.92, 0.88), (0.80, 0.12, 0.10), (0.95, 0.52, 0.12), (0.95, 0.85, 0.22), (0.22, 0.70, 0.30),
             (0.18, 0.38, 0.85), (0.58, 0.58, 0.60), (0.55, 0.25, 0.70), (0.10, 0.10, 0.12)]
BEDS = [(0.20, 0.20, 0.22), (0.58, 0.45, 0.22), (0.07, 0.07, 0.08), (0.25, 0.45, 0.72), (0.16, 0.34, 0.20)]


@dataclass
class CameraShot:
    image: np.ndarray  # (S, S, 3) uint8
    mask: np.ndarray  # (S, S) uint8, 255 = defect
    material: np.ndarray  # (S, S) uint8, 255 = printed material as seen
    gcode_to_image: np.ndarray  # (3, 3) mm -> image pixel
    theta: np.ndarray  # (3, 3) normalised render -> camera (the misalignment drawn)
    defects: list[dict] = field(default_factory=list)
    clean_image: np.ndarray | None = None  # the same shot without defects, when asked for


def random_theta(rng: np.random.Generator) -> np.ndarray:
    """Misalignment in normalised coordinates: rotation ±10°, scale ±10 %, shift ±8 % of the image, mild perspective."""
    a = np.deg2rad(rng.uniform(-10, 10))
    s = rng.uniform(0.9, 1.1)
    tx, ty = rng.uniform(-0.16, 0.16, size=2)  # 8 % of a side is 0.16 in [-1, 1] units
    px, py = rng.uniform(-0.04, 0.04, size=2)
    return np.array([[s * np.cos(a), -s * np.sin(a), tx], [s * np.sin(a), s * np.cos(a), ty], [px, py, 1.0]])


def _luma(c: np.ndarray) -> float:
    return float(c @ np.array([0.299, 0.587, 0.114]))


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    while True:
        mat = np.array(MATERIALS[int(rng.integers(len(MATERIALS)))]) + rng.uniform(-0.04, 0.04, 3)
        bed = np.array(BEDS[int(rng.integers(len(BEDS)))]) + rng.uniform(-0.03, 0.03, 3)
        if abs(_luma(mat) - _luma(bed)) > 0.18 or np.abs(mat - bed).max() > 0.4:
            return np.clip(mat, 0, 1).astype(np.float32), np.clip(bed, 0, 1).astype(np.float32)


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)


def _stripes(p_mm: np.ndarray, angle: float, period: float) -> np.ndarray:
    across = p_mm[..., 0] * -np.sin(angle) + p_mm[..., 1] * np.cos(angle)
    return np.cos(2 * np.pi * across / period)


def _pick(rng: np.random.Generator, where: np.ndarray) -> tuple[int, int] | None:
    idx = np.flatnonzero(where)
    if idx.size == 0:
        return None
    k = int(idx[int(rng.integers(idx.size))])
    return divmod(k, where.shape[1])


class _Planter:
    """Draws defect regions (boolean, on the supersampled grid) in millimetre space."""

    def __init__(self, rng, p_mm, planned, bead, infill_angle, unit_mm, px_per_unit):
        self.rng, self.p, self.planned, self.bead, self.angle, self.u = rng, p_mm, planned, bead, infill_angle, unit_mm
        self.inside = ndimage.binary_erosion(planned, iterations=2 * px_per_unit)
        self.edge = planned & ~ndimage.binary_erosion(planned, iterations=1)
        self.centroid = p_mm[planned].mean(axis=0)

    def gap(self):
        at = _pick(self.rng, self.inside)
        if at is None:
            return None
        c = self.p[at]
        d = np.array([np.cos(self.angle), np.sin(self.angle)])
        n = np.array([-d[1], d[0]])
        beads = max(2, int(np.ceil(self.rng.uniform(2.0, 3.0) * self.u / self.bead)))
        half_w = beads * self.bead / 2
        half_l = self.rng.uniform(3.0, 6.0) * self.u
        rel = self.p - c
        region = (np.abs(rel @ d) <= half_l) & (np.abs(rel @ n) <= half_w)
        return region & self.planned, {"kind": "gap", "beads": beads, "length_mm": round(2 * half_l, 3)}

    def hole(self):
        at = _pick(self.rng, self.inside)
        if at is None:
            return None
        r = self.rng.uniform(1.6, 3.0) * self.u
        region = np.linalg.norm(self.p - self.p[at], axis=-1) <= r
        return region & self.planned, {"kind": "hole", "radius_mm": round(r, 3)}

    def blob(self):
        at = _pick(self.rng, self.planned if self.rng.random() < 0.5 else self.edge)
        if at is None:
            return None
        rx = self.rng.uniform(1.5, 2.8) * self.u
        ry = rx * self.rng.uniform(0.6, 1.0)
        a = self.rng.uniform(0, np.pi)
        rel = self.p - self.p[at]
        q = np.stack([rel @ np.array([np.cos(a), np.sin(a)]) / rx, rel @ np.array([-np.sin(a), np.cos(a)]) / ry], -1)
        rho2 = np.sum(q * q, axis=-1)
        return rho2 <= 1.0, {"kind": "blob", "radius_mm": round(rx, 3), "_rho2": rho2}

    def stringing(self):
        at = _pick(self.rng, self.edge)
        if at is None:
            return None
        start = self.p[at]
        away = start - self.centroid
        heading = np.arctan2(away[1], away[0]) + self.rng.uniform(-0.7, 0.7)
        length = self.rng.uniform(8.0, 16.0) * self.u
        d = np.array([np.cos(heading), np.sin(heading)])
        end = start + length * d
        bend = start + 0.5 * length * d + self.rng.uniform(-0.3, 0.3) * length * np.array([-d[1], d[0]])
        t = np.linspace(0, 1, 9)[:, None]
        pts = (1 - t) ** 2 * start + 2 * (1 - t) * t * bend + t**2 * end  # quadratic Bézier, a sagging string
        half_w = self.rng.uniform(0.75, 1.0) * self.u  # >= 1.5 px wide at 64x64, so no faint unmasked trail
        lo, hi = pts.min(axis=0) - half_w, pts.max(axis=0) + half_w
        near = np.all((self.p >= lo) & (self.p <= hi), axis=-1)  # only pixels in the string's box
        pn = self.p[near]
        dist = np.min(np.stack([_segment_distance(pn, a, b) for a, b in zip(pts[:-1], pts[1:])]), axis=0)
        region = np.zeros_like(near)
        region[near] = dist <= half_w
        return region & ~self.planned, {"kind": "stringing", "length_mm": round(length, 3)}


def _without_slivers(region: np.ndarray, min_px: int) -> np.ndarray:
    """Drop pieces under `min_px` (a string grazing the part's corner): they would show faintly
    in the image yet fall below half a pixel in the mask."""
    labels, count = ndimage.label(region)
    if count <= 1:
        return region
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_px
    keep[0] = False
    return keep[labels]


def _box_down(x: np.ndarray, f: int) -> np.ndarray:
    h, w = x.shape[0] // f, x.shape[1] // f
    return x.reshape(h, f, w, f, *x.shape[2:]).mean(axis=(1, 3))


def shoot(
    layer,
    size: int,
    *,
    bead: float,
    infill_angle: float,
    rng: np.random.Generator,
    n_defects: int,
    layer_height: float = 0.2,
    keep_clean: bool = False,
) -> CameraShot:
    """Camera image of `layer` (a parsed top layer) with `n_defects` planted defects.

    `keep_clean` also returns the same shot without its defects (same lighting, blur and noise),
    so tests can check that the image changes exactly where the mask says.
    """
    from gg_research.ggnet.render import frame_for, render_layer

    mm_to_px = frame_for(layer.bounds, size, margin=0.08)
    theta = random_theta(rng)
    n = pixel_to_norm(size, size)
    h_px = np.linalg.inv(n) @ theta @ n
    g2i = h_px @ mm_to_px
    g2i = g2i / g2i[2, 2]

    f = SUPERSAMPLE
    hi = np.array([[f, 0, (f - 1) / 2], [0, f, (f - 1) / 2], [0, 0, 1.0]])  # pixel centres, same area
    big = size * f
    # The renderer supersamples internally; its coverage at S, interpolated, places edges well
    # within a pixel, and is the very render the loader will pair with this image.
    render = render_layer(layer, size, bead_width_mm=bead, mm_to_px=mm_to_px).image.astype(np.float32) / 255.0

    ys, xs = np.mgrid[0:big, 0:big].astype(np.float32)
    cam = np.stack([xs, ys, np.ones_like(xs)], axis=-1).astype(np.float64) @ np.linalg.inv(hi @ g2i).T
    p_mm = (cam[..., :2] / cam[..., 2:3]).astype(np.float32)  # float32 halves the cost of every per-pixel op
    q = p_mm @ mm_to_px[:2, :2].T + mm_to_px[:2, 2]  # affine: the render frame has no perspective
    planned_soft = ndimage.map_coordinates(render, [q[..., 1], q[..., 0]], order=1, cval=0.0)
    planned = planned_soft >= 0.5

    mm_per_px_64 = size / (64.0 * np.sqrt(abs(np.linalg.det(mm_to_px[:2, :2]))))
    px_per_unit = max(1, int(round(f * size / 64)))
    pitch = bead_spacing(bead, layer_height)  # distance between neighbouring bead centres
    planter = _Planter(rng, p_mm, planned, pitch, infill_angle, mm_per_px_64, px_per_unit)
    min_area = 3.0 * (f * size / 64.0) ** 2  # at least ~3 pixels once resized to 64x64

    mat, bed = _colours(rng)
    # Stripes finer than ~2 supersampled pixels would only alias into moiré; fade them out instead.
    stripe_period = pitch / (mm_per_px_64 * 64 / (size * f))
    stripe_amp = 0.16 * float(np.clip((stripe_period - 2.0) / 2.0, 0.0, 1.0))

    # Low-frequency mottling of the bed: a coarse random grid, smoothly upsampled.
    low = np.asarray(Image.fromarray(rng.normal(size=(8, 8)).astype(np.float32), "F").resize((big, big), Image.BICUBIC))
    low = low / (np.abs(low).max() + 1e-9)
    bed_img = bed * (1 + 0.06 * low + 0.03 * rng.standard_normal(size=(big, big), dtype=np.float32))[..., None]
    top = 1 + stripe_amp * _stripes(p_mm, infill_angle, pitch)
    top_img = mat * top[..., None]
    img = top_img * planned_soft[..., None] + bed_img * (1 - planned_soft[..., None])
    clean = img.copy() if keep_clean else None
    material = planned.copy()
    defect_mask = np.zeros_like(planned)
    defects: list[dict] = []

    kinds = [DEFECT_KINDS[int(rng.integers(len(DEFECT_KINDS)))] for _ in range(n_defects)]
    # Removals first (they show what lies below), additions on top, as material piles up in print order.
    kinds.sort(key=lambda k: k in ("blob", "stringing"))
    for kind in kinds:
        planted = None
        for _attempt in range(8):  # a spot too small (a hole grazing the edge) is drawn again
            got = getattr(planter, kind)()
            if got is None:
                break
            region = _without_slivers(got[0], min_px=2 * f * f)
            if region.sum() >= min_area:
                planted = region, got[1]
                break
        if planted is None:
            continue
        region, info = planted
        r3 = region[..., None]
        if kind == "gap":
            below = mat * (0.55 + 0.5 * stripe_amp * _stripes(p_mm, infill_angle + np.pi / 2, pitch))[..., None]
            img = np.where(r3, below, img)
            material &= ~region
        elif kind == "hole":
            img = np.where(r3, bed_img * 0.35, img)
            material &= ~region
        elif kind == "blob":
            shade = 1.25 + 0.3 * (1 - np.clip(info.pop("_rho2"), 0, 1))
            img = np.where(r3, np.clip(mat * shade[..., None] + 0.08, 0, 1), img)
            material |= region
        else:
            img = np.where(r3, mat * 0.92, img)
            material |= region
        defect_mask |= region
        info["area_px"] = int(round(region.sum() / f**2))
        defects.append(info)

    xs_n = (xs / (big - 1)) - 0.5
    ys_n = (ys / (big - 1)) - 0.5
    phi = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0.2, 0.45) * (xs_n * np.cos(phi) + ys_n * np.sin(phi))
    blur = rng.uniform(0.35, 0.8)
    noise = rng.normal(scale=rng.uniform(0.008, 0.025), size=(size, size, 3))

    def develop(x: np.ndarray) -> np.ndarray:
        x = ndimage.gaussian_filter(_box_down(x * light[..., None], f), sigma=(blur, blur, 0))
        return np.clip(np.round((x + noise) * 255), 0, 255).astype(np.uint8)

    image = develop(img)
    mask = np.where(_box_down(defect_mask.astype(np.float32), f) >= 0.5, 255, 0).astype(np.uint8)
    material_img = np.where(_box_down(material.astype(np.float32), f) >= 0.5, 255, 0).astype(np.uint8)
    return CameraShot(image=image, mask=mask, material=material_img, gcode_to_image=g2i, theta=theta, defects=defects,
                      clean_image=develop(clean) if clean is not None else None)
