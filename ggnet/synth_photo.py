"""Photographic camera of a printed top layer: the `realistic`, `hard` and `dimensional` presets.

Like `ggnet.synth_camera`, every pixel of a 2x supersampled camera grid knows its printer
millimetre coordinates through the inverse ground-truth homography. On top of that it knows its
distance to the nearest bead centreline of the top layer's toolpath, which gives each bead a
rounded cross-section: shading, specular glints and dark valleys follow the real toolpath
(perimeters and infill). Defects edit the surface (bead width, height, exposed layer below,
hairs) rather than paint colours, so their contrast is what the lighting makes of them.
Dimensional defects (an edge printed out or in, a void) change only where material is; the
material looks like the rest of the print, so only the G-code tells them from the design.

One camera model, kept whole (about 420 lines): its stages share the scene's geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import ndimage

from gg_research.ggnet.synth_camera import SUPERSAMPLE, CameraShot, _box_down, _pick, _segment_distance, _without_slivers
from gg_research.ggnet.synth_presets import Preset
from gg_research.ggnet.synth_scene import Lighting, Scene, develop, draw_optics, draw_scene, lighting, nozzle, shade, smooth_noise
from gg_research.ggnet.synth_shapes import bead_spacing
from gg_research.ggnet.warp import pixel_to_norm

DEFECT_KINDS = ("under_extrusion", "missing_beads", "over_extrusion", "stringing", "lifted_corner", "void")
# Drawn only through a preset's defect_mix, so the uniform draw of realistic and hard is unchanged.
DIMENSIONAL_KINDS = ("edge_bulge", "edge_recession")
ADDITIONS = ("over_extrusion", "stringing", "edge_bulge")  # planted after the removals, on top of them
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


@dataclass
class _Surface:
    """Per-pixel state of the top layer that defects edit."""

    width: np.ndarray  # bead half-width factor (1 = the nominal, overlapping beads)
    height: np.ndarray  # extra height in mm (bulges, lifted corners)
    lower: np.ndarray  # bool: the top beads are missing, the layer below shows
    hair: np.ndarray  # opacity of stringing hairs
    material: np.ndarray  # bool: printed material as seen (voids remove it)
    brighten: np.ndarray  # albedo factor (over-extruded material is denser, glossier)

    @classmethod
    def nominal(cls, planned: np.ndarray) -> "_Surface":
        z = np.zeros(planned.shape, np.float32)
        return cls(z + 1, z.copy(), np.zeros_like(planned), z.copy(), planned.copy(), z + 1)

    def copy(self) -> "_Surface":
        return _Surface(*(getattr(self, k).copy() for k in ("width", "height", "lower", "hair", "material", "brighten")))


class _Geometry:
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


def draw_kinds(rng: np.random.Generator, preset: Preset, n: int) -> list[str]:
    """The kinds of `n` defects, removals first: uniform over DEFECT_KINDS or by the preset's mix."""
    if not preset.defect_mix:
        kinds = [DEFECT_KINDS[int(rng.integers(len(DEFECT_KINDS)))] for _ in range(n)]
    else:
        names = [k for k, _ in preset.defect_mix]
        unknown = set(names) - set(DEFECT_KINDS + DIMENSIONAL_KINDS)
        if unknown:
            raise ValueError(f"preset {preset.name}: unknown defect kinds {sorted(unknown)}")
        p = np.array([w for _, w in preset.defect_mix], dtype=np.float64)
        kinds = [names[int(i)] for i in rng.choice(len(names), size=n, p=p / p.sum())]
    return sorted(kinds, key=lambda k: k in ADDITIONS)


class _Planter:
    """Defects as edits of the surface, placed in millimetres; sizes in 'units' (a pixel at 64 px)."""

    def __init__(self, rng, g: _Geometry, infill_angle: float, contrast: float):
        self.rng, self.g, self.c = rng, g, contrast
        self.u = g.mm_per_px_64
        ppu = max(1, int(round(SUPERSAMPLE * g.size / 64)))
        self.inside = ndimage.binary_erosion(g.planned, iterations=2 * ppu)
        self.edge = g.planned & ~ndimage.binary_erosion(g.planned, iterations=1)
        self.centroid = g.p_mm[g.planned].mean(axis=0)
        self.d = np.array([np.cos(infill_angle), np.sin(infill_angle)], dtype=np.float32)
        self.n = np.array([-self.d[1], self.d[0]], dtype=np.float32)

    def _band(self, at, half_l: float, half_w: float) -> np.ndarray:
        rel = self.g.p_mm - self.g.p_mm[at]
        return (np.abs(rel @ self.d) <= half_l) & (np.abs(rel @ self.n) <= half_w)

    def under_extrusion(self, s: _Surface):
        at = _pick(self.rng, self.inside)
        if at is None:
            return None
        region = self._band(at, self.rng.uniform(4, 8) * self.u, self.rng.uniform(2, 4) * self.u) & self.g.planned
        return region, {"kind": "under_extrusion"}, lambda: s.width.__setitem__(region, 1 - self.c * self.rng.uniform(0.3, 0.45))

    def missing_beads(self, s: _Surface):
        at = _pick(self.rng, self.inside)
        if at is None:
            return None
        beads = int(self.rng.integers(1, 4))
        half_w = max(beads * self.g.pitch / 2, 0.8 * self.u)
        region = self._band(at, self.rng.uniform(3, 7) * self.u, half_w) & self.g.planned
        return region, {"kind": "missing_beads", "beads": beads}, lambda: s.lower.__setitem__(region, True)

    def over_extrusion(self, s: _Surface):
        at = _pick(self.rng, self.g.planned if self.rng.random() < 0.5 else self.edge)
        if at is None:
            return None
        rx = self.rng.uniform(1.8, 3.2) * self.u
        ry = rx * self.rng.uniform(0.6, 1.0)
        a = self.rng.uniform(0, np.pi)
        rel = self.g.p_mm - self.g.p_mm[at]
        q = np.stack([rel @ np.array([np.cos(a), np.sin(a)]) / rx, rel @ np.array([-np.sin(a), np.cos(a)]) / ry], -1)
        bump = np.clip(1 - np.sum(q * q, axis=-1), 0, 1) ** 2
        region = bump > 0.05
        lift = self.c * self.rng.uniform(0.15, 0.3)

        def apply() -> None:
            s.height += (lift * bump).astype(np.float32)
            s.width[region] = 1.25
            s.brighten[region] *= 1 + 0.12 * self.c
            s.material |= region

        return region, {"kind": "over_extrusion"}, apply

    def lifted_corner(self, s: _Surface):
        edge = np.flatnonzero(self.edge)
        if edge.size == 0:
            return None
        far = np.linalg.norm(self.g.p_mm.reshape(-1, 2)[edge] - self.centroid, axis=1)
        corners = edge[far >= np.quantile(far, 0.9)]
        at = divmod(int(corners[int(self.rng.integers(corners.size))]), self.g.big)
        r = self.rng.uniform(5, 9) * self.u
        ramp = np.clip(1 - np.linalg.norm(self.g.p_mm - self.g.p_mm[at], axis=-1) / r, 0, 1)
        region = (ramp > 0.15) & self.g.planned
        lift = self.c * self.rng.uniform(0.4, 0.9)

        def apply() -> None:
            s.height += np.where(self.g.planned, lift * ramp**2, 0).astype(np.float32)

        return region, {"kind": "lifted_corner"}, apply

    @cached_property
    def _depth_out(self) -> np.ndarray:
        """Millimetres from the design's material, outside it (0 on the design)."""
        return (ndimage.distance_transform_edt(~self.g.planned) * self.g.mm_per_px).astype(np.float32)

    @cached_property
    def _depth_in(self) -> np.ndarray:
        """Millimetres to the design's edge, inside its material (0 off the design)."""
        return (ndimage.distance_transform_edt(self.g.planned) * self.g.mm_per_px).astype(np.float32)

    def _edge_stretch(self, outward: bool) -> np.ndarray | None:
        # A stretch of the planned outline (outer wall or a hole's) printed a bead or two out of place.
        at = _pick(self.rng, self.edge)
        if at is None:
            return None
        depth = self.rng.uniform(1.2, 2.6) * self.u
        near = np.linalg.norm(self.g.p_mm - self.g.p_mm[at], axis=-1) <= self.rng.uniform(4.0, 8.0) * self.u
        d = self._depth_out if outward else self._depth_in
        return near & (d > 0) & (d <= depth)

    def edge_bulge(self, s: _Surface):
        region = self._edge_stretch(outward=True)
        if region is None:
            return None

        def apply() -> None:
            s.material |= region
            # Wide enough that the top surface covers the band: it looks like the wall it grew from.
            s.width[region] = 2.0

        return region, {"kind": "edge_bulge"}, apply

    def edge_recession(self, s: _Surface):
        region = self._edge_stretch(outward=False)
        if region is None:
            return None
        return region, {"kind": "edge_recession"}, lambda: s.material.__setitem__(region, False)

    def void(self, s: _Surface):
        at = _pick(self.rng, self.inside)
        if at is None:
            return None
        r = self.rng.uniform(1.6, 2.8) * self.u
        region = (np.linalg.norm(self.g.p_mm - self.g.p_mm[at], axis=-1) <= r) & self.g.planned
        return region, {"kind": "void"}, lambda: s.material.__setitem__(region, False)

    def stringing(self, s: _Surface):
        at = _pick(self.rng, self.edge)
        if at is None:
            return None
        start = self.g.p_mm[at]
        away = start - self.centroid
        heading = np.arctan2(away[1], away[0]) + self.rng.uniform(-0.7, 0.7)
        length = self.rng.uniform(8.0, 18.0) * self.u
        d = np.array([np.cos(heading), np.sin(heading)])
        bend = start + 0.5 * length * d + self.rng.uniform(-0.3, 0.3) * length * np.array([-d[1], d[0]])
        t = np.linspace(0, 1, 9)[:, None]
        pts = (1 - t) ** 2 * start + 2 * (1 - t) * t * bend + t**2 * (start + length * d)
        hair_w = self.rng.uniform(0.25, 0.45) * self.u  # thinner than a pixel at 64 px: a faint hair
        mark_w = 0.8 * self.u  # the annotator's stroke: wide enough to survive resizing
        lo, hi = pts.min(axis=0) - mark_w, pts.max(axis=0) + mark_w
        near = np.all((self.g.p_mm >= lo) & (self.g.p_mm <= hi), axis=-1)
        dist = np.full(near.shape, np.inf, np.float32)
        dist[near] = np.min(np.stack([_segment_distance(self.g.p_mm[near], a, b) for a, b in zip(pts[:-1], pts[1:])]), axis=0)
        region = (dist <= mark_w) & ~self.g.planned
        alpha = self.c * self.rng.uniform(0.45, 0.8)

        def apply() -> None:
            cov = np.clip((hair_w - dist) / self.g.mm_per_px + 0.5, 0, 1) * ~self.g.planned
            s.hair = np.maximum(s.hair, (alpha * cov).astype(np.float32))

        return region, {"kind": "stringing"}, apply


def _shifted(x: np.ndarray, by: np.ndarray) -> np.ndarray:
    return ndimage.shift(x.astype(np.float32), (float(by[1]), float(by[0])), order=1, cval=0.0)


def _compose(g: _Geometry, sc: Scene, lit: Lighting, s: _Surface, below: np.ndarray, bed_maps: tuple, wall_dir: np.ndarray) -> np.ndarray:
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
    g = _Geometry(layer, size, bead, layer_height, theta)
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

    surface = _Surface.nominal(g.planned)
    clean_surface = surface.copy() if keep_clean else None
    planter = _Planter(rng, g, infill_angle, preset.contrast)
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

    def photograph(s: _Surface) -> np.ndarray:
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
