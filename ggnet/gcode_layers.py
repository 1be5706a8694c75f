"""What the G-code parser yields, and the builder that gathers one layer as it reads.

A `GCodeProgram` is a file's extruding layers in print order; a `Layer` holds its segments as an
(n, 4) array of x0, y0, x1, y1 in mm of printer coordinates. `LayerBuilder` keeps a layer's plain
lines as tuples (cheap to append in the parser's loop) and its arcs' chords as ready arrays, in
print order, until the layer is finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gg_research.ggnet.errors import GCodeError


@dataclass
class Layer:
    """The extruding moves of one layer, in mm of printer coordinates."""

    index: int
    z: float
    segments: np.ndarray
    extruded_e: float
    path_length: float
    bounds: tuple[float, float, float, float]


@dataclass
class GCodeProgram:
    """A parsed G-code file: its extruding layers in print order."""

    source: str
    layers: list[Layer] = field(default_factory=list)

    def layer(self, index: int) -> Layer:
        """Layer `index` (0-based, print order); a GCodeError naming the file if out of range."""
        n = len(self.layers)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not 0 <= index < n:
            raise GCodeError(f"{self.source}: no layer {index!r}; the file has {n} layers (0..{n - 1})")
        return self.layers[int(index)]


class LayerBuilder:
    """One layer's extruding moves as the parser meets them: lines one by one, arcs as blocks of chords."""

    __slots__ = ("z", "segs", "blocks", "e", "length")

    def __init__(self, z: float) -> None:
        self.z = z
        self.segs: list[tuple[float, float, float, float]] = []
        self.blocks: list[np.ndarray] = []  # arcs' chords, with the lines before them, in print order
        self.e = 0.0
        self.length = 0.0

    def add_chords(self, chords: np.ndarray) -> None:
        if self.segs:
            self.blocks.append(np.asarray(self.segs, dtype=np.float64).reshape(-1, 4))
            self.segs = []
        self.blocks.append(chords)
        self.length += float(np.hypot(chords[:, 2] - chords[:, 0], chords[:, 3] - chords[:, 1]).sum())

    def finish(self, index: int) -> Layer:
        seg = np.asarray(self.segs, dtype=np.float64).reshape(-1, 4)
        if self.blocks:
            seg = np.concatenate([*self.blocks, seg])
        xs = np.concatenate([seg[:, 0], seg[:, 2]])
        ys = np.concatenate([seg[:, 1], seg[:, 3]])
        bounds = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        return Layer(index=index, z=self.z, segments=seg, extruded_e=self.e, path_length=self.length, bounds=bounds)
