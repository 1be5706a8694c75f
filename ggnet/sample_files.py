"""Opening and checking the files a manifest names: images, binary masks, G-code layers.

`data check` (validate_dataset) and the loader share these checks, so a dataset that passes the
check loads; each problem is one DatasetError naming the manifest line and the sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# Decoding with a pixel limit and strict masks are the guards' (ggnet.dataset_guards).
from gg_research.ggnet.dataset_guards import binary_mask, open_image
from gg_research.ggnet.errors import DatasetError
from gg_research.ggnet.manifest import Sample, Where, read_manifest

class GCodeFiles:
    """Parses each G-code file once and turns parser errors into sample-naming errors."""

    def __init__(self) -> None:
        self._programs: dict[Path, Any] = {}

    def layer(self, s: Sample, where: Where):
        from gg_research.ggnet.errors import GCodeError
        from gg_research.ggnet.gcode import parse_gcode

        assert s.gcode is not None
        if not s.gcode.is_file():
            raise where.error(f"G-code file {s.gcode} does not exist")
        program = self._programs.get(s.gcode)
        if program is None:
            try:
                program = parse_gcode(s.gcode)
            except GCodeError as exc:
                raise where.error(str(exc)) from None
            self._programs[s.gcode] = program
        n = len(program.layers)
        if s.layer >= n:
            raise where.error(f"layer {s.layer} of {s.gcode} has no extrusion (the file has {n} extruding layers, 0..{n - 1})")
        layer = program.layer(s.layer)
        if len(layer.segments) == 0:
            raise where.error(f"layer {s.layer} of {s.gcode} has no extrusion")
        return layer


def check_sample(root: Path, s: Sample, gcodes: GCodeFiles, *, parse: bool = True) -> dict[str, Any]:
    """Open every file of `s`; return the decoded images (PIL) for the loader.

    `parse=False` only checks that the G-code file exists: the loader parses it (and checks the
    layer) only when its render is not cached, since a cached render proves the layer was valid.
    """
    where = Where.of(root, s)
    image = open_image(s.image, "image", where)
    mask_im = open_image(s.mask, "mask", where)
    if mask_im.size != image.size:
        raise where.error(f"mask {s.mask} is {mask_im.size[0]}x{mask_im.size[1]} but the image is {image.size[0]}x{image.size[1]}")
    mask = binary_mask(mask_im, "mask", s.mask, where)
    out: dict[str, Any] = {"image": image, "mask": mask, "material": None, "render": None, "layer": None}
    if s.material_mask is not None:
        mat_im = open_image(s.material_mask, "material mask", where)
        if mat_im.size != image.size:
            raise where.error(f"material mask {s.material_mask} is {mat_im.size[0]}x{mat_im.size[1]} "
                              f"but the image is {image.size[0]}x{image.size[1]}")
        out["material"] = binary_mask(mat_im, "material mask", s.material_mask, where)
    if s.gcode is not None:
        if parse:
            out["layer"] = gcodes.layer(s, where)
        elif not s.gcode.is_file():
            raise where.error(f"G-code file {s.gcode} does not exist")
    else:
        out["render"] = open_image(s.render, "render", where)
    return out


def validate_dataset(root: Path, *, bead_width_mm: float = 0.45) -> list[Sample]:
    """`read_manifest` plus opening every file: raises the first problem as a DatasetError."""
    if not bead_width_mm > 0:
        raise DatasetError(f"bead width must be positive, got {bead_width_mm!r} mm")
    root = Path(root)
    samples = read_manifest(root)
    gcodes = GCodeFiles()
    for s in samples:
        check_sample(root, s, gcodes)
    return samples


def mask_has_defect(path: Path) -> bool:
    """Whether a (valid) mask marks any pixel; used by `data check` for the defect share."""
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im.convert("L"))
    return bool((a >= (128 if a.max(initial=0) > 1 else 1)).any())
