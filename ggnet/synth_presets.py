"""Presets of the synthetic generator: how hard the camera makes the task.

`easy` is the original generator (flat colours, high-contrast defects), kept byte for byte for
tests and the demo. `realistic` photographs the top layer the way a camera over a print bed
does (`ggnet.synth_photo`); `hard` is `realistic` with a wider misalignment (beyond the baseline
STN's default limits) and lower contrast everywhere. `dimensional` is `realistic`'s camera with
a different mix of defects: mostly the printed outline departing from the planned one by a bead
or two (edges out or in, holes closing, voids), which look like any other part of the print, so
only the G-code, aligned to within a bead, tells them from the design. On it the segmentation
depends on the alignment.
"""

from __future__ import annotations

from dataclasses import dataclass

from gg_research.ggnet.errors import DatasetError


@dataclass(frozen=True)
class Preset:
    name: str
    version: int  # bump when this preset's output for the same parameters changes
    # Misalignment drawn per image (normalised coordinates, [-1, 1] spans the image).
    rotation_deg: float = 10.0
    scale_delta: float = 0.1
    translation: float = 0.16
    perspective: float = 0.04
    # Parts are the easy outlines scaled by a factor in this range (smaller parts: visible beads).
    part_scale: tuple[float, float] = (1.0, 1.0)
    # Multiplies the visible strength of every defect (1 = realistic).
    contrast: float = 1.0
    blur_px: tuple[float, float] = (0.4, 1.0)  # defocus sigma at output resolution, near and far edge
    noise: tuple[float, float] = (0.006, 0.02)  # read noise, fraction of full scale
    jpeg_quality: tuple[int, int] = (45, 85)
    nozzle_share: float = 0.6  # images with the nozzle in view
    dark_or_clear_share: float = 0.35  # images of a dark or translucent filament
    # Relative frequency of each defect kind of ggnet.synth_photo; empty = its six surface and
    # shape defects equally likely (the draw realistic and hard were measured with).
    defect_mix: tuple[tuple[str, float], ...] = ()


PRESETS: dict[str, Preset] = {
    "easy": Preset("easy", 4),
    "realistic": Preset(
        "realistic", 1, rotation_deg=10.0, scale_delta=0.1, translation=0.16, perspective=0.045, part_scale=(0.4, 0.65)
    ),
    "hard": Preset(
        "hard", 1, rotation_deg=24.0, scale_delta=0.18, translation=0.26, perspective=0.09, part_scale=(0.4, 0.65),
        contrast=0.55, blur_px=(0.6, 1.5), noise=(0.012, 0.035), jpeg_quality=(25, 60), nozzle_share=0.8,
        dark_or_clear_share=0.55,
    ),
    "dimensional": Preset(
        "dimensional", 1, rotation_deg=10.0, scale_delta=0.1, translation=0.16, perspective=0.045,
        part_scale=(0.4, 0.65),
        defect_mix=(("edge_bulge", 0.3), ("edge_recession", 0.3), ("void", 0.2), ("under_extrusion", 0.04),
                    ("missing_beads", 0.04), ("over_extrusion", 0.04), ("stringing", 0.04), ("lifted_corner", 0.04)),
    ),
}
DEFAULT_PRESET = "easy"


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a one-line DatasetError listing the known ones."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise DatasetError(f"unknown synthetic preset {name!r} (one of {', '.join(PRESETS)})") from None
