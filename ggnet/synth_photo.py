"""Photographic camera of a printed top layer: the `realistic`, `hard` and `dimensional` presets.

Like `ggnet.synth_camera`, every pixel of a 2x supersampled camera grid knows its printer
millimetre coordinates through the inverse ground-truth homography. On top of that it knows its
distance to the nearest bead centreline of the top layer's toolpath, which gives each bead a
rounded cross-section: shading, specular glints and dark valleys follow the real toolpath
(perimeters and infill). Defects edit the surface (bead width, height, exposed layer below,
hairs) rather than paint colours, so their contrast is what the lighting makes of them.
Dimensional defects (an edge printed out or in, a void) change only where material is; the
material looks like the rest of the print, so only the G-code tells them from the design.

The defects themselves (which kinds, where, how each edits the surface) are planted by
`ggnet.synth_defects`; this module holds the camera's geometry and the picture it takes.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from gg_research.ggnet.synth_camera import SUPERSAMPLE, CameraShot, _box_down, _without_slivers
from gg_research.ggnet.synth_defects import (  # noqa: F401 - the kinds re-exported for callers
    ADDITIONS,
    DEFECT_KINDS,
    DIMENSIONAL_KINDS,
    Planter,
    Surface,
    draw_kinds,
)
from gg_research.ggnet.synth_presets import Preset
from gg_research.ggnet.synth_scene import Lighting, Scene, develop, draw_optics, draw_scene, lighting, nozzle, shade, smooth_noise
from gg_research.ggnet.synth_shapes import bead_spacing
from gg_research.ggnet.warp import pixel_to_norm

RELIEF_MM = 0.07  # height of a bead's rounded top above the valleys between beads


def random_theta(rng: np.random.Generator, preset: Preset) -> np.ndarray:
    a = np.deg2rad(rng.uniform(-preset.rotation_deg, preset.rotation_deg))
    s = rng.uniform(1 - preset.scale_delta, 1 + preset.scale_delta)
    tx, ty = rng.uniform(-preset.translation, preset.translation, size=2)
    px, py = rng.uniform(-preset.perspective, preset.perspective, size=2)
    return np.array([[s * np.cos(a), -s * np.sin(a), tx], [s * np.sin(a), s * np.cos(a), ty], [px, py, 1.0]])


def centreline_distance(a: np.ndarray, b: np.ndarray, h: int, w: int, reach: float) -> np.ndarray:
    """Distance (px) of every pixel centre to the nearest of the segments a->b (px), capped at `reach`.

    Each segment is cut into pieces no longer than `reach`; each piece evaluates its distance on
    a small window around it, all at once, and a pixel keeps the smallest.
    """
    out = np.full(h * w, reach, dtype=np.float32)
    lo, up = np.minimum(a, b) - reach, np.maximum(a, b) + reach
    keep = (up[:, 0] >= 0) & (up[:, 1] >= 0) & (lo[:, 0] <= w - 1) & (lo[:, 1] <= h - 1)
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return out.reshape(h, w)
    piece = max(2.0, reach)
    n = np.maximum(1, np.ceil(np.hypot(*(b - a).T) / piece)).astype(np.int64)
    seg = np.repeat(np.arange(len(a)), n)
    k = np.arange(len(seg)) - np.repeat(np.cumsum(n) - n, n)
    d = b - a
    pa = a[seg] + (k / n[seg])[:, None] * d[seg]
    pb = a[seg] + ((k + 1) / n[seg])[:, None] * d[seg]
    side = int(np.ceil(piece + 2 * reach + 2))
    oy, ox = (v.ravel() for v in np.mgrid[0:side, 0:side].astype(np.float32))
    chunk = max(1, 2_000_000 // (side * side))
    for s in range(0, len(pa), chunk):
        qa, qb = pa[s : s + chunk].astype(np.float32), pb[s : s + chunk].astype(np.float32)
        origin = np.floor(np.minimum(qa, qb) - reach)
        gx, gy = origin[:, :1] + ox, origin[:, 1:] + oy
        vx, vy = (qb - qa).T
        vv = np.maximum(vx * vx + vy * vy, 1e-9)
        rx, ry = gx - qa[:, :1], gy - qa[:, 1:]
        t = np.clip((rx * vx[:, None] + ry * vy[:, None]) / vv[:, None], 0, 1)
        dist = np.hypot(rx - t * vx[:, None], ry - t * vy[:, None])
        inside = (gx >= 0) & (gx <= w - 1) & (gy >= 0) & (gy <= h - 1) & (dist < reach)
        np.minimum.at(out, (gy[inside] * w + gx[inside]).astype(np.int64), dist[inside])
    return out.reshape(h, w)


class Geometry:
    """Where every supersampled camera pixel lies on the print, and what it knows of the toolpath."""

    def __init__(self, layer, size: int, bead: float, layer_height: float, theta: np.ndarray):
        from gg_research.ggnet.render import frame_for, render_layer

        f = SUPERSAMPLE
        self.size, self.big = size, size * f
        self.mm_to_px = frame_for(layer.bounds, size, margin=0.08)
        n = pixel_to_norm(size, size)
        g2i = np.linalg.inv(n) @ theta @ n @ self.mm_to_px
        self.g2i = g2i / g2i[2, 2]
        hi = np.array([[f, 0, (f - 1) / 2], [0, f, (f - 1) / 2], [0, 0, 1.0]])
        to_big = hi @ self.g2i
        ys, xs = np.mgrid[0 : self.big, 0 : self.big].astype(np.float32)
        cam = np.stack([xs, ys, np.ones_like(xs)], axis=-1).astype(np.float64) @ np.linalg.inv(to_big).T
        self.p_mm = (cam[..., :2] / cam[..., 2:3]).astype(np.float32)
        self.pos = np.stack([xs, ys], axis=-1) / (self.big - 1) * 2 - 1  # normalised image position
        render = render_layer(layer, size, bead_width_mm=bead, mm_to_px=self.mm_to_px).image.astype(np.float32) / 255.0
        q = self.p_mm @ self.mm_to_px[:2, :2].T + self.mm_to_px[:2, 2]
        self.planned_soft = ndimage.map_coordinates(render, [q[..., 1], q[..., 0]], order=1, cval=0.0)
        self.planned = self.planned_soft >= 0.5
        # Millimetres per supersampled pixel at the image centre (perspective changes it by a few %).
        c = self.big // 2
        jac = np.stack([self.p_mm[c, c + 1] - self.p_mm[c, c], self.p_mm[c + 1, c] - self.p_mm[c, c]])
        self.mm_per_px = float(np.sqrt(abs(np.linalg.det(jac.astype(np.float64)))))
        self.mm_per_px_64 = self.mm_per_px * f * size / 64.0
        self.pitch = bead_spacing(bead, layer_height)
        self.half_bead = bead / 2
        seg = np.asarray(layer.segments, dtype=np.float64).reshape(-1, 4)
        ends = [np.concatenate([seg[:, i : i + 2], np.ones((len(seg), 1))], 1) @ to_big.T for i in (0, 2)]
        a, b = (e[:, :2] / e[:, 2:3] for e in ends)
        reach = 1.6 * self.half_bead / self.mm_per_px
        self.dist_mm = centreline_distance(a, b, self.big, self.big, reach) * self.mm_per_px
        gy, gx = np.gradient(self.dist_mm)
        norm = np.maximum(np.hypot(gx, gy), 1e-6)
        self.grad = np.stack([gx / norm, gy / norm], axis=-1)


def _shifted(x: np.ndarray, by: np.ndarray) -> np.ndarray:
    return ndimage.shift(x.astype(np.float32), (float(by[1]), float(by[0])), order=1, cval=0.0)


def _compose(g: Geometry, sc: Scene, lit: Lighting, s: Surface, below: np.ndarray, bed_maps: tuple, wall_dir: np.ndarray) -> np.ndarray:
    """Linear radiance of the supersampled scene for surface state `s` (no nozzle, no optics)."""
    bed_albedo, bed_normal, bed_gloss = bed_maps
    half = g.half_bead * s.width
    u = np.clip(g.dist_mm / half, 0, 1)
    cover = np.clip((half - g.dist_mm) / g.mm_per_px + 0.5, 0, 1)[..., None]
    # Bead cross-section: a raised cosine RELIEF_MM high; its slope tilts the normal across the bead.
    slope = RELIEF_MM * (-0.5 * np.pi * np.sin(np.pi * u)) / half
    hy, hx = np.gradient(s.height)
    tilt = slope[..., None] * g.grad + np.stack([hx, hy], -1) / g.mm_per_px
    normal = np.concatenate([-tilt, np.ones_like(tilt[..., :1])], -1).astype(np.float32)
    normal /= np.sqrt(np.sum(normal * normal, axis=-1, keepdims=True))
    lower_albedo = sc.mat * (0.78 + 0.22 * below)[..., None]
    through = (0.5 * sc.mat + 0.5 * sc.bed) * (0.8 + 0.2 * below)[..., None]
    albedo = (sc.opacity * sc.mat + (1 - sc.opacity) * through) * s.brighten[..., None]
    top = shade(normal, albedo, sc.mat_gloss, sc, lit) * (0.7 + 0.3 * np.sqrt(1 - u))[..., None]
    recess = 0.72  # the layer below lies in the shadow of its neighbours
    lower = shade(None, lower_albedo, 0.4 * sc.mat_gloss, sc, lit) * recess
    surface = np.where(s.lower[..., None], lower, cover * top + (1 - cover) * lower)

    bed = shade(bed_normal, bed_albedo, bed_gloss, sc, lit)
    material = s.material.astype(np.float32)
    soft = np.where(s.material == g.planned, g.planned_soft, material)  # keep anti-aliased design edges
    # Oblique view: the walls facing the camera show between the bed footprint and the top.
    footprint = _shifted(soft, wall_dir)
    wall = np.clip(footprint - soft, 0, 1)[..., None]
    light_dir = sc.light[:2] / np.linalg.norm(sc.light[:2])
    shadow = ndimage.gaussian_filter(_shifted(soft, -light_dir * np.linalg.norm(wall_dir) * 1.5), 2.0)
    bed = bed * (1 - 0.45 * np.clip(shadow - soft, 0, 1))[..., None]
    wall_col = sc.mat * (0.35 + 0.15 * sc.opacity) * (sc.ambient + 0.3)
    img = soft[..., None] * surface + (1 - soft[..., None]) * (wall * wall_col + (1 - wall) * bed)
    hair = s.hair[..., None]
    return img * (1 - hair) + hair * (sc.mat * 0.9 + 0.05)


def shoot_photo(
    layer,
    size: int,
    *,
    bead: float,
    infill_angle: float,
    below_angle: float,
    rng: np.random.Generator,
    n_defects: int,
    preset: Preset,
    layer_height: float = 0.2,
    keep_clean: bool = False,
) -> CameraShot:
    """Photograph of `layer` (a parsed top layer) with `n_defects` planted defects.

    `keep_clean` also returns the same photograph without its defects (same light, nozzle,
    blur, noise and JPEG quality), so tests can measure the defects' contrast.
    """
    f = SUPERSAMPLE
    theta = random_theta(rng, preset)
    g = Geometry(layer, size, bead, layer_height, theta)
    sc = draw_scene(rng, preset)
    big = g.big

    across = g.p_mm @ np.array([-np.sin(below_angle), np.cos(below_angle)], dtype=np.float32)
    below = (0.5 + 0.5 * np.cos(2 * np.pi * across / g.pitch)).astype(np.float32)
    speckle = rng.standard_normal((big, big, 2)).astype(np.float32)
    bed_tilt = ndimage.gaussian_filter(speckle, (0.8, 0.8, 0)) * sc.bed_texture * 6
    bed_normal = np.concatenate([bed_tilt, np.ones((big, big, 1), np.float32)], -1)
    bed_normal /= np.sqrt(np.sum(bed_normal * bed_normal, axis=-1, keepdims=True))
    mottle = 1 + 0.08 * smooth_noise(rng, (big, big), 6) + 0.3 * sc.bed_texture * ndimage.gaussian_filter(speckle[..., 0], 0.6)
    bed_maps = ((sc.bed * mottle[..., None]).astype(np.float32), bed_normal, sc.bed_gloss)
    lit = lighting(sc, g.pos)
    eye_dir = sc.eye[:2] / np.linalg.norm(sc.eye[:2])
    wall_dir = eye_dir * rng.uniform(0.2, 0.5) / g.mm_per_px  # part height x tan(obliquity), in px

    surface = Surface.nominal(g.planned)
    clean_surface = surface.copy() if keep_clean else None
    planter = Planter(rng, g, infill_angle, preset.contrast)
    min_area = 3.0 * (f * size / 64.0) ** 2
    defect_mask = np.zeros_like(g.planned)
    planted: list[tuple[np.ndarray, dict]] = []
    for kind in draw_kinds(rng, preset, n_defects):
        for _attempt in range(8):
            got = getattr(planter, kind)(surface)
            if got is None:
                break
            region = _without_slivers(got[0], min_px=2 * f * f)
            if region.sum() >= min_area:
                got[2]()
                defect_mask |= region
                planted.append((region, got[1]))
                break

    occluder = None
    if rng.random() < preset.nozzle_share:
        ys, xs = np.nonzero(g.planned) if g.planned.any() else (np.array([big // 2]), np.array([big // 2]))
        k = int(rng.integers(len(xs)))
        occluder = nozzle(rng, big, f * size / 64.0, (float(xs[k]), float(ys[k])))
    optics = draw_optics(rng, preset, size, f)

    def photograph(s: Surface) -> np.ndarray:
        img = _compose(g, sc, lit, s, below, bed_maps, wall_dir)
        if occluder is not None:
            region, colour, shadow = occluder
            img = img * (1 - 0.55 * shadow)[..., None]
            img = np.where(region[..., None], colour, img)
        return develop(img, optics, f)

    seen = ~occluder[0] if occluder is not None else np.ones_like(g.planned)
    mask = np.where(_box_down((defect_mask & seen).astype(np.float32), f) >= 0.5, 255, 0).astype(np.uint8)
    # A defect the nozzle hides is not in the picture, so it is not listed either.
    defects: list[dict] = []
    for region, info in planted:
        visible = _box_down((region & seen).astype(np.float32), f) >= 0.5
        if visible.any():
            defects.append({**info, "area_px": int(visible.sum())})
    if mask.any() and not defects:  # only the union of two half-hidden defects shows
        region, info = max(planted, key=lambda p: int((p[0] & seen).sum()))
        defects.append({**info, "area_px": int((mask > 0).sum())})
    material = np.where(_box_down((surface.material & seen).astype(np.float32), f) >= 0.5, 255, 0).astype(np.uint8)
    return CameraShot(image=photograph(surface), mask=mask, material=material, gcode_to_image=g.g2i, theta=theta,
                      defects=defects, clean_image=photograph(clean_surface) if clean_surface is not None else None)
