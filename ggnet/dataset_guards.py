"""Guards on a dataset folder's files: nothing outside the folder, masks that are masks, images
small enough to decode, and the splits training needs.

Each guard raises a one-line DatasetError through `where.error(...)`, where `where` is the
manifest's line locator (ggnet.manifest.Where) (anything with `.error(str) -> Exception`), so the
message names the manifest, the line and the sample.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Protocol
from collections.abc import Iterable

import numpy as np

from gg_research.ggnet.errors import DatasetError

# Largest image (width x height) a dataset may hold: 8000 x 8000, beyond any camera the
# network is trained on (it resizes to a few hundred pixels). Checked from the file header
# before decoding, so a tiny file declaring a huge image costs nothing.
MAX_IMAGE_PIXELS = 64_000_000
# The splits `data check` requires: the trainer learns on train, the loop scores every run on val.
REQUIRED_SPLITS = ("train", "val")


class _Where(Protocol):
    def error(self, problem: str) -> Exception: ...


def check_inside(root: Path, path: Path, key: str, where: _Where) -> None:
    """Refuse `path` (under `root`) when it resolves, through symlinks, outside `root`."""
    base = root.resolve()
    target = path.resolve()
    if target != base and base not in target.parents:
        raise where.error(f"'{key}' {path} leads outside the dataset folder (to {target}); copy the file into {root}")


def check_manifest_inside(root: Path, manifest: Path) -> None:
    """Refuse a manifest that is a symlink to a file outside the dataset folder."""
    base = root.resolve()
    target = manifest.resolve()
    if base not in target.parents:
        raise DatasetError(f"{manifest}: leads outside the dataset folder (to {target}); copy it into {root}")


def open_image(path: Path, what: str, where: _Where) -> Any:
    """The decoded PIL image at `path`, refusing what cannot be read or is over MAX_IMAGE_PIXELS."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise where.error(f"{what} file {path} does not exist")
    try:
        with warnings.catch_warnings():
            # PIL warns past its own limit and raises past twice that; both are our one line.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise where.error(_too_large(what, path, f"{width}x{height} ({width * height / 1e6:.0f} Mpx)"))
                im.load()
                return im.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise where.error(_too_large(what, path, f"past PIL's decompression-bomb limit: {exc}")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise where.error(f"cannot read {what} {path} ({type(exc).__name__}: {exc})") from None


def _too_large(what: str, path: Path, size: str) -> str:
    return f"{what} {path} is too large to load: {size}; a dataset image may have at most {MAX_IMAGE_PIXELS / 1e6:.0f} Mpx"


def binary_mask(im: Any, what: str, path: Path, where: _Where) -> np.ndarray:
    """A 0/255 uint8 array of a mask whose pixels are all 0/255 or all 0/1; anything else is refused.

    Grey levels are refused rather than thresholded: a 0/3 mask thresholded at half would
    silently mark no defect, and an anti-aliased or JPEG mask has no one right threshold.
    """
    a = np.asarray(im.convert("L"))
    values = np.flatnonzero(np.bincount(a.ravel(), minlength=256))
    if set(values.tolist()) <= {0, 1}:
        return (a > 0).astype(np.uint8) * 255
    if set(values.tolist()) <= {0, 255}:
        return a.copy()
    shown = ", ".join(str(v) for v in values[:6]) + (", ..." if len(values) > 6 else "")
    raise where.error(
        f"{what} {path} is not a binary mask: its pixels take {len(values)} values ({shown}); "
        "expected only 0 and 255, or only 0 and 1 (save masks as PNG, not JPEG)"
    )


def check_splits(manifest: Path, splits: Iterable[str]) -> None:
    """Refuse a dataset missing one of REQUIRED_SPLITS."""
    present = set(splits)
    for split in REQUIRED_SPLITS:
        if split not in present:
            raise DatasetError(
                f"{manifest}: no samples in split {split!r}; a dataset needs {' and '.join(REQUIRED_SPLITS)} "
                "samples (the loop scores every run on val)"
            )
