"""The photographic presets' defects, planted as edits of the top layer's surface.

A `Surface` is the per-pixel state of the top layer (bead width, extra height, the layer below
showing, stringing hairs, where material is, its brightness); `Planter` places each kind of
defect in printer millimetres on the camera's geometry (`ggnet.synth_photo.Geometry`) and
returns its region with the edit to make, so the photograph shows what the lighting makes of it.
Sizes are in units of one pixel at 64 px, so a defect covers the same share of the part at any
image size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from gg_research.ggnet.synth_camera import SUPERSAMPLE, _pick, _segment_distance
from gg_research.ggnet.synth_presets import Preset

if TYPE_CHECKING:
    from gg_research.ggnet.synth_photo import Geometry

DEFECT_KINDS = ("under_extrusion", "missing_beads", "over_extrusion", "stringing", "lifted_corner", "void")
# Drawn only through a preset's defect_mix, so the uniform draw of realistic and hard is unchanged.
DIMENSIONAL_KINDS = ("edge_bulge", "edge_recession")
ADDITIONS = ("over_extrusion", "stringing", "edge_bulge")  # planted after the removals, on top of them


@dataclass
class Surface:
    """Per-pixel state of the top layer that defects edit."""

    width: np.ndarray  # bead half-width factor (1 = the nominal, overlapping beads)
    height: np.ndarray  # extra height in mm (bulges, lifted corners)
    lower: np.ndarray  # bool: the top beads are missing, the layer below shows
    hair: np.ndarray  # opacity of stringing hairs
    material: np.ndarray  # bool: printed material as seen (voids remove it)
    brighten: np.ndarray  # albedo factor (over-extruded material is denser, glossier)

    @classmethod
    def nominal(cls, planned: np.ndarray) -> Surface:
        z = np.zeros(planned.shape, np.float32)
        return cls(z + 1, z.copy(), np.zeros_like(planned), z.copy(), planned.copy(), z + 1)

    def copy(self) -> Surface:
        return Surface(*(getattr(self, k).copy() for k in ("width", "height", "lower", "hair", "material", "brighten")))


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


class Planter:
    """Defects as edits of the surface, placed in millimetres; sizes in 'units' (a pixel at 64 px)."""

    def __init__(self, rng, g: Geometry, infill_angle: float, contrast: float):
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

    def under_extrusion(self, s: Surface):
        at = _pick(self.rng, self.inside)
        if at is None:
            return None
        region = self._band(at, self.rng.uniform(4, 8) * self.u, self.rng.uniform(2, 4) * self.u) & self.g.planned
        return region, {"kind": "under_extrusion"}, lambda: s.width.__setitem__(region, 1 - self.c * self.rng.uniform(0.3, 0.45))

    def missing_beads(self, s: Surface):
        at = _pick(self.rng, self.inside)
        if at is None:
            return None
        beads = int(self.rng.integers(1, 4))
        half_w = max(beads * self.g.pitch / 2, 0.8 * self.u)
        region = self._band(at, self.rng.uniform(3, 7) * self.u, half_w) & self.g.planned
        return region, {"kind": "missing_beads", "beads": beads}, lambda: s.lower.__setitem__(region, True)

    def over_extrusion(self, s: Surface):
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

    def lifted_corner(self, s: Surface):
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

    def edge_bulge(self, s: Surface):
        region = self._edge_stretch(outward=True)
        if region is None:
            return None

        def apply() -> None:
            s.material |= region
            # Wide enough that the top surface covers the band: it looks like the wall it grew from.
            s.width[region] = 2.0

        return region, {"kind": "edge_bulge"}, apply

    def edge_recession(self, s: Surface):
        region = self._edge_stretch(outward=False)
        if region is None:
            return None
        return region, {"kind": "edge_recession"}, lambda: s.material.__setitem__(region, False)

    def void(self, s: Surface):
        at = _pick(self.rng, self.inside)
        if at is None:
            return None
        r = self.rng.uniform(1.6, 2.8) * self.u
        region = (np.linalg.norm(self.g.p_mm - self.g.p_mm[at], axis=-1) <= r) & self.g.planned
        return region, {"kind": "void"}, lambda: s.material.__setitem__(region, False)

    def stringing(self, s: Surface):
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
