"""The built-in synthetic dataset: G-code parts, their simulated camera images, planted defects.

Each sample is a small solid part (a few layers of perimeters and rectilinear infill) written as
real G-code, parsed back and rendered with `ggnet.gcode` / `ggnet.render` exactly as the loader
will, then photographed by `ggnet.synth_camera` through a known misalignment that the manifest
records as `gcode_to_image`. Every sample draws from its own seed `(seed, index)`, so the bytes
depend only on (preset, n, size, seed) and the preset's version.

The preset (`ggnet.synth_presets`) chooses the camera: `easy` is the flat-colour camera of
`ggnet.synth_camera` (the original output, unchanged), `realistic`, `hard` and `dimensional`
the photographic camera of `ggnet.synth_photo`. The G-code side is the same for all; the
photographic presets only scale the part down so that its beads are visible.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gg_research.ggnet.errors import DatasetError
from gg_research.ggnet.synth_presets import DEFAULT_PRESET, PRESETS, Preset, get_preset

# The easy preset's version: bump whenever its output for the same parameters changes, so cached
# datasets are regenerated (the other presets carry their own in ggnet.synth_presets).
GENERATOR_VERSION = PRESETS["easy"].version
BEAD_WIDTH_MM = 0.45
LAYER_HEIGHT_MM = 0.2
SPLIT_SHARES = (("train", 0.7), ("val", 0.2), ("test", 0.1))
CLEAN_SHARE = 0.2  # images with no defect, in every split


def split_plan(n: int, seed: int) -> tuple[list[str], list[bool]]:
    """Split of each sample index and whether it is planted with defects (deterministic)."""
    order = np.random.default_rng([seed, 0x5EED]).permutation(n)
    n_train = int(round(SPLIT_SHARES[0][1] * n))
    n_val = int(round(SPLIT_SHARES[1][1] * n))
    bounds = {"train": order[:n_train], "val": order[n_train : n_train + n_val], "test": order[n_train + n_val :]}
    splits = [""] * n
    defective = [True] * n
    for name, members in bounds.items():
        n_clean = int(round(CLEAN_SHARE * len(members)))
        for rank, idx in enumerate(members):
            splits[idx] = name
            defective[idx] = rank >= n_clean
    return splits, defective


def _sample(out: Path, index: int, size: int, seed: int, split: str, defective: bool, preset: Preset,
            secret: tuple[int, ...] = ()) -> dict:
    from gg_research.ggnet.gcode import parse_gcode
    from gg_research.ggnet.synth_camera import shoot
    from gg_research.ggnet.synth_gcode import write_gcode
    from gg_research.ggnet.synth_shapes import Outline, layer_paths, random_outline
    from PIL import Image

    easy = preset.name == "easy"
    # The easy stream stays [seed, index] so its bytes never change; the others get their own.
    rng = np.random.default_rng([seed, index] if easy else [seed, index, _preset_salt(preset.name)])
    if secret and split in SEALED_SPLITS:
        # The scored splits also draw from the workspace's secret: a run that knows the preset, n,
        # size and seed (they are in the config) still cannot regenerate their labels.
        rng = np.random.default_rng([seed, index, _preset_salt(preset.name), *secret])
    sid = f"synth_{index:05d}"
    outline = random_outline(rng)
    if not easy:
        scale = rng.uniform(*preset.part_scale)
        outline = Outline(kind=outline.kind, rings=[r * scale for r in outline.rings])
    n_layers = int(rng.integers(3, 6))
    angles = [np.deg2rad(45.0 if li % 2 == 0 else -45.0) for li in range(n_layers)]
    layers = [layer_paths(outline, BEAD_WIDTH_MM, a, layer_height=LAYER_HEIGHT_MM) for a in angles]
    text = write_gcode(
        layers,
        bead=BEAD_WIDTH_MM,
        layer_height=LAYER_HEIGHT_MM,
        relative_e=bool(rng.random() < 0.5),
        cura_markers=bool(rng.random() < 0.5),
        offset=(float(110 + rng.uniform(-25, 25)), float(110 + rng.uniform(-25, 25))),
        title=f"{sid}: {outline.kind}, {len(outline.rings) - 1} hole(s), {n_layers} layers",
    )
    gcode_rel = f"gcode/{sid}.gcode"
    (out / gcode_rel).write_text(text, encoding="utf-8")
    program = parse_gcode(text=text, source=str(out / gcode_rel))
    top = program.layers[-1]
    n_defects = int(rng.integers(1, 4)) if defective else 0
    if easy:
        shot = shoot(top, size, bead=BEAD_WIDTH_MM, infill_angle=angles[-1], rng=rng, n_defects=n_defects)
    else:
        from gg_research.ggnet.synth_photo import shoot_photo

        shot = shoot_photo(top, size, bead=BEAD_WIDTH_MM, infill_angle=angles[-1], below_angle=angles[-2], rng=rng,
                           n_defects=n_defects, preset=preset, layer_height=LAYER_HEIGHT_MM)

    paths = {"image": f"images/{sid}.png", "mask": f"masks/{sid}.png", "material_mask": f"material/{sid}.png"}
    Image.fromarray(shot.image, "RGB").save(out / paths["image"])
    Image.fromarray(shot.mask, "L").save(out / paths["mask"])
    Image.fromarray(shot.material, "L").save(out / paths["material_mask"])
    return {
        "id": sid,
        "image": paths["image"],
        "mask": paths["mask"],
        "gcode": gcode_rel,
        "layer": int(top.index),
        "split": split,
        "gcode_to_image": [[round(float(v), 10) for v in row] for row in shot.gcode_to_image],
        "material_mask": paths["material_mask"],
        "defects": [d["kind"] for d in shot.defects],
        "shape": outline.kind,
    }


def _preset_salt(name: str) -> int:
    return int.from_bytes(name.encode("utf-8")[:8], "little")


def generate(
    out_dir: Path,
    n: int,
    size: int,
    seed: int,
    *,
    preset: str = DEFAULT_PRESET,
    progress: Callable[[int, int], None] | None = None,
    secret: bytes = b"",
) -> Path:
    """Write a synthetic dataset of `n` samples of `size`x`size` pixels into `out_dir` (new or empty).

    `secret` (a workspace's): mixed into the validation and test samples, so the same parameters
    give the same dataset only where the secret is known; without one, the bytes of before."""
    out = Path(out_dir)
    chosen = get_preset(preset)
    if n < 1:
        raise DatasetError(f"synthetic dataset: n must be at least 1 (got {n})")
    if size < 32:
        raise DatasetError(f"synthetic dataset: size must be at least 32 pixels (got {size})")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out}: already exists and is not an empty folder; choose a new --out")
    for sub in ("images", "masks", "material", "gcode"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    splits, defective = split_plan(n, seed)
    words = _secret_words(secret)
    lines = []
    for i in range(n):
        lines.append(json.dumps(_sample(out, i, size, seed, splits[i], defective[i], chosen, words),
                                separators=(", ", ": ")))
        if progress is not None:
            progress(i + 1, n)
    (out / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    info = {"generator_version": chosen.version, "preset": chosen.name, "n": n, "size": size, "seed": seed,
            "bead_width_mm": BEAD_WIDTH_MM}
    (out / "synth.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return out


SEALED_SPLITS = ("val", "test")


def _secret_words(secret: bytes) -> tuple[int, ...]:
    if not secret:
        return ()
    digest = hashlib.sha256(secret).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 32, 4))


def synthetic_name(n: int, size: int, seed: int, preset: str = DEFAULT_PRESET, secret: bytes = b"") -> str:
    """Cache folder name; the easy preset keeps its original name, so existing caches stay valid.
    A set made with a secret says so (a short hash of it, which does not reveal it)."""
    p = get_preset(preset)
    stem = f"synth-v{p.version}" if p.name == "easy" else f"synth-{p.name}-v{p.version}"
    sealed = f"-k{hashlib.sha256(b'name:' + secret).hexdigest()[:8]}" if secret else ""
    return f"{stem}-n{n}-s{size}-seed{seed}{sealed}"


STALE_TEMP_S = 600.0


def _remove_stale_temps(root: Path, name: str) -> None:
    """Remove temp folders of generations that were killed (SIGKILL skips the cleanup).

    A folder whose entries have not changed for STALE_TEMP_S is not being written any more;
    a live generation adds an image every fraction of a second.
    """
    now = time.time()
    for tmp in root.glob(f".{name}.tmp-*"):
        try:
            newest = max([tmp.stat().st_mtime] + [p.stat().st_mtime for p in tmp.iterdir()])
        except OSError:
            continue
        if now - newest > STALE_TEMP_S:
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_synthetic(
    cache_root: Path,
    n: int,
    size: int,
    seed: int,
    *,
    preset: str = DEFAULT_PRESET,
    progress: Callable[[int, int], None] | None = None,
    secret: bytes = b"",
) -> Path:
    """The cached synthetic dataset for these parameters, generating it once if needed.

    Generation goes to a hidden temp folder renamed into place at the end, so a killed run never
    leaves a half dataset where a later call would take it for a whole one.
    """
    root = Path(cache_root)
    final = root / synthetic_name(n, size, seed, preset, secret)
    if (final / "manifest.jsonl").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(root, final.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=root))
    try:
        generate(tmp, n, size, seed, preset=preset, progress=progress, secret=secret)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "manifest.jsonl").is_file():  # not a concurrent winner: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
