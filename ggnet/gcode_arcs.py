"""Flattening G2/G3 arcs into chords, with bounds on what one line (or one file) may cost.

A chord deviates from its arc by at most ARC_MAX_SAGITTA_MM and spans at most
ARC_MAX_STEP_RAD, so a 100 mm full circle takes about 310 chords. An arc that would need more
than ARC_MAX_CHORDS (a radius of kilometres, a garbled I/J or R) is refused with its line
rather than flattened into gigabytes, and so are arcs whose chords together pass
FILE_MAX_ARC_CHORDS, since every arc line can stay under the first bound.
"""

from __future__ import annotations

import math

import numpy as np

from gg_research.ggnet.errors import GCodeError

ARC_MAX_SAGITTA_MM = 0.005
ARC_MAX_STEP_RAD = math.radians(5.0)
ARC_MAX_CHORDS = 10_000  # a full circle of radius ~25 m at the sagitta above
FILE_MAX_ARC_CHORDS = 10_000_000  # 320 MB of float64 segments
# How far (mm, and share of the radius; both must be exceeded) the end point may lie off the
# circle through the start point before the arc is refused, as grbl does; slicers' arc fitting
# and ArcWelder stay within a few hundredths of a millimetre.
ARC_END_TOLERANCE_MM, ARC_END_TOLERANCE_SHARE = 0.5, 0.001


def arc_centre(
    x0: float, y0: float, x1: float, y1: float, params: dict[str, float], unit: float, clockwise: bool, where: str
) -> tuple[float, float]:
    """The centre of an XY arc from its I/J offset or its R radius (R > 0 the short way round)."""
    if "I" in params or "J" in params:
        i, j = params.get("I", 0.0) * unit, params.get("J", 0.0) * unit
        if i == 0.0 and j == 0.0:
            raise GCodeError(f"{where}: arc centre offset I/J is zero (the centre is the start point)")
        return x0 + i, y0 + j
    if "R" not in params:
        raise GCodeError(f"{where}: arc without I/J or R")
    r = params["R"] * unit
    dx, dy = x1 - x0, y1 - y0
    d = math.hypot(dx, dy)
    if d == 0.0:
        raise GCodeError(f"{where}: an R arc cannot end where it starts (the circle is undefined); use I/J")
    if d > 2.0 * abs(r) + 1e-9:
        raise GCodeError(f"{where}: arc radius R{params['R']:g} cannot join its end points ({d:.6g} mm apart)")
    h = math.sqrt(max(r * r - d * d / 4.0, 0.0))
    sign = 1.0 if clockwise == (r < 0) else -1.0
    return (x0 + x1) / 2.0 - sign * h * dy / d, (y0 + y1) / 2.0 + sign * h * dx / d


def arc_chords(
    x0: float, y0: float, x1: float, y1: float, params: dict[str, float], unit: float, clockwise: bool, where: str
) -> np.ndarray:
    """Flatten an XY arc (G2 clockwise / G3 counter-clockwise) into an (n, 4) array of chords."""
    cx, cy = arc_centre(x0, y0, x1, y1, params, unit, clockwise, where)
    r0 = math.hypot(x0 - cx, y0 - cy)
    r1 = math.hypot(x1 - cx, y1 - cy)
    if abs(r1 - r0) > ARC_END_TOLERANCE_MM and abs(r1 - r0) > ARC_END_TOLERANCE_SHARE * r0:
        raise GCodeError(
            f"{where}: arc end point is {abs(r1 - r0):.6g} mm off its circle (radius {r0:.6g} mm at the start, "
            f"{r1:.6g} mm at the end); check its I/J or R"
        )
    a0 = math.atan2(y0 - cy, x0 - cx)
    sweep = math.atan2(y1 - cy, x1 - cx) - a0
    if clockwise:
        if sweep >= -1e-12:
            sweep -= 2.0 * math.pi
    elif sweep <= 1e-12:
        sweep += 2.0 * math.pi
    turns = params.get("P", 0.0)
    if turns < 0 or turns != int(turns):
        raise GCodeError(f"{where}: arc P{turns:g} must be a whole number of extra turns")
    sweep += (-2.0 if clockwise else 2.0) * math.pi * turns
    r = max(r0, r1)
    step = ARC_MAX_STEP_RAD
    if r > ARC_MAX_SAGITTA_MM / 2.0:
        # 2 acos(1 - s/r), written so it stays exact (never 0) for a radius of kilometres.
        step = min(step, 4.0 * math.asin(math.sqrt(ARC_MAX_SAGITTA_MM / (2.0 * r))))
    needed = abs(sweep) / step
    if not needed <= ARC_MAX_CHORDS:
        raise GCodeError(
            f"{where}: arc of radius {r:.6g} mm over {math.degrees(abs(sweep)):.0f} degrees needs {needed:,.0f} chords, "
            f"more than the {ARC_MAX_CHORDS:,} allowed per arc; check its I/J or R"
        )
    n = max(1, math.ceil(needed))
    t = np.arange(n + 1, dtype=np.float64) / n
    angle = a0 + sweep * t
    radius = r0 + (r1 - r0) * t  # a slightly inconsistent end radius: firmware spirals to it
    pts = np.column_stack([cx + radius * np.cos(angle), cy + radius * np.sin(angle)])
    pts[0] = (x0, y0)
    pts[-1] = (x1, y1)
    return np.hstack([pts[:-1], pts[1:]])
