"""G-code layer renders cached in memory and on disk, keyed by everything that shapes them.

The key covers the G-code bytes, the render parameters and a digest of the source of the
renderer (this module and every ggnet module it imports: render, gcode, ...), so an edit to
the renderer invalidates old renders by itself. A second process (the harness after
train.py) reuses the renders of the first.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from pathlib import Path
from collections.abc import Callable

import numpy as np

from gg_research.ggnet.sources import PACKAGE, module_files, source_digest

RENDER_MARGIN = 0.08


@functools.cache
def renderer_digest() -> str:
    """Digest of the source of the code whose output the cache holds: the renderer and the parser
    whose layers it draws (the renderer imports only the layers' types, not the parser)."""
    return source_digest(module_files([__name__, f"{PACKAGE}.gcode"], [PACKAGE]))


def render_key(gcode_bytes: bytes, layer: int, size: int, bead: float) -> str:
    h = hashlib.sha256(gcode_bytes)
    h.update(f"|layer={layer}|size={size}|bead={bead!r}|margin={RENDER_MARGIN!r}|code={renderer_digest()}".encode())
    return h.hexdigest()[:32]


def _digest(key: str, image: np.ndarray, mm_to_px: np.ndarray) -> str:
    h = hashlib.sha256(key.encode())
    h.update(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(mm_to_px, dtype=np.float64).tobytes())
    return h.hexdigest()


def cached_render(
    layer_fn: Callable[[], object], gcode_path: Path, layer: int, size: int, bead: float, cache_dir: Path | None, memo: dict
) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 (S, S), mm_to_px 3x3) of a G-code layer, from memory, disk cache or the renderer.

    `layer_fn()` returns the parsed Layer; it is only called on a cache miss.
    """
    from gg_research.ggnet.render import render_layer

    key = render_key(gcode_path.read_bytes(), layer, size, bead)
    if key in memo:
        return memo[key]
    path = Path(cache_dir) / f"render-{key}.npz" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                image, mm_to_px = z["image"], z["mm_to_px"]
                # Content-checked on read: a damaged or overwritten entry is rendered again.
                if str(z["digest"]) == _digest(key, image, mm_to_px):
                    memo[key] = (image, mm_to_px)
                    return memo[key]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is re-rendered and replaced
    r = render_layer(layer_fn(), size, bead_width_mm=bead, margin=RENDER_MARGIN)
    memo[key] = (r.image, r.mm_to_px)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, image=r.image, mm_to_px=r.mm_to_px, digest=np.array(_digest(key, r.image, r.mm_to_px)))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
    return memo[key]
