"""Scene of the photographic presets: filament and bed materials, lights, the nozzle, optics.

Colours are given as sRGB and converted to linear light for shading; the camera applies the
gamma, noise and JPEG compression at the end (`develop`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from gg_research.ggnet.synth_presets import Preset

# (sRGB colour, gloss, opacity). Opaque colours are the common case; the others are dark or
# translucent filaments, where the defects' contrast against the part is lowest.
OPAQUE = [((0.90, 0.90, 0.86), 0.25), ((0.78, 0.14, 0.10), 0.35), ((0.95, 0.50, 0.12), 0.3), ((0.93, 0.82, 0.20), 0.3),
          ((0.20, 0.62, 0.30), 0.35), ((0.16, 0.34, 0.78), 0.35), ((0.66, 0.66, 0.68), 0.7), ((0.52, 0.26, 0.66), 0.4),
          ((0.85, 0.80, 0.70), 0.15)]
DARK_OR_CLEAR = [((0.07, 0.07, 0.08), 0.45, 1.0), ((0.20, 0.20, 0.22), 0.35, 1.0), ((0.10, 0.14, 0.30), 0.4, 1.0),
                 ((0.86, 0.90, 0.92), 0.8, 0.35), ((0.75, 0.12, 0.12), 0.7, 0.5), ((0.20, 0.40, 0.85), 0.7, 0.5),
                 ((0.92, 0.88, 0.78), 0.5, 0.6)]
# (sRGB colour, gloss, texture): textured PEI sheets, smooth PEI, glass, tape.
BEDS = [((0.55, 0.42, 0.20), 0.25, 0.10), ((0.09, 0.09, 0.10), 0.3, 0.12), ((0.16, 0.16, 0.17), 0.8, 0.01),
        ((0.22, 0.36, 0.62), 0.2, 0.04), ((0.35, 0.30, 0.18), 0.5, 0.02), ((0.18, 0.30, 0.20), 0.25, 0.08)]
SOCKS = [(0.70, 0.12, 0.10), (0.12, 0.25, 0.70), (0.08, 0.08, 0.08), (0.55, 0.55, 0.58)]
BRASS = np.array([0.78, 0.58, 0.26])


def linear(c) -> np.ndarray:
    return np.asarray(c, dtype=np.float32) ** 2.2


def _luma(c: np.ndarray) -> float:
    return float(np.asarray(c) @ np.array([0.299, 0.587, 0.114]))


@dataclass
class Scene:
    mat: np.ndarray  # linear RGB albedo of the filament
    mat_gloss: float
    opacity: float
    bed: np.ndarray
    bed_gloss: float
    bed_texture: float
    light: np.ndarray  # point light position, normalised image units (x, y, height)
    eye: np.ndarray  # camera position, same units (oblique: off-centre)
    ambient: float


def draw_scene(rng: np.random.Generator, preset: Preset) -> Scene:
    while True:
        if rng.random() < preset.dark_or_clear_share:
            colour, gloss, opacity = DARK_OR_CLEAR[int(rng.integers(len(DARK_OR_CLEAR)))]
        else:
            colour, gloss = OPAQUE[int(rng.integers(len(OPAQUE)))]
            opacity = 1.0
        bed_colour, bed_gloss, texture = BEDS[int(rng.integers(len(BEDS)))]
        mat = np.clip(np.array(colour) + rng.uniform(-0.04, 0.04, 3), 0, 1)
        bed = np.clip(np.array(bed_colour) + rng.uniform(-0.03, 0.03, 3), 0, 1)
        seen = opacity * mat + (1 - opacity) * bed
        if abs(_luma(seen) - _luma(bed)) > 0.08 or np.abs(seen - bed).max() > 0.2:
            break
    az = rng.uniform(0, 2 * np.pi)
    light = np.array([1.4 * np.cos(az), 1.4 * np.sin(az), rng.uniform(1.2, 2.5)])
    tilt = rng.uniform(0, 2 * np.pi)
    eye = np.array([0.8 * np.cos(tilt), 0.8 * np.sin(tilt), 3.0])
    return Scene(linear(mat), gloss, opacity, linear(bed), bed_gloss, texture, light, eye, float(rng.uniform(0.25, 0.4)))


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Zero-mean noise of unit peak with features about shape/cells pixels across."""
    low = np.asarray(Image.fromarray(rng.normal(size=(cells, cells)).astype(np.float32), "F").resize(shape[::-1], Image.BICUBIC))
    return low / (np.abs(low).max() + 1e-9)


@dataclass
class Lighting:
    """Per-pixel unit vectors towards the lamp and the Blinn half-vector, and the lamp's falloff."""

    to_light: np.ndarray  # (H, W, 3)
    half: np.ndarray  # (H, W, 3)
    falloff: np.ndarray  # (H, W, 1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.sqrt(np.sum(v * v, axis=-1, keepdims=True))


def lighting(scene: Scene, pos: np.ndarray) -> Lighting:
    """Lighting of the bed-plane points at normalised image positions `pos` (H, W, 2)."""
    p = np.concatenate([pos, np.zeros_like(pos[..., :1])], axis=-1).astype(np.float32)
    to_light = scene.light.astype(np.float32) - p
    dist2 = np.sum(to_light * to_light, axis=-1, keepdims=True)
    to_light = to_light / np.sqrt(dist2)
    half = _unit(to_light + _unit(scene.eye.astype(np.float32) - p))
    return Lighting(to_light, half, 4.0 / (1.0 + dist2))


def shade(normal: np.ndarray | None, albedo: np.ndarray, gloss: float | np.ndarray, scene: Scene, lit: Lighting) -> np.ndarray:
    """Blinn-Phong under one point light: (H, W, 3) linear radiance; `normal` None is a flat surface."""
    if normal is None:
        diffuse, cos_h = lit.to_light[..., 2:3], lit.half[..., 2]
    else:
        diffuse = np.clip(np.sum(normal * lit.to_light, axis=-1, keepdims=True), 0, None)
        cos_h = np.clip(np.sum(normal * lit.half, axis=-1), 0, None)
    spec = cos_h**40
    return albedo * (scene.ambient + 0.9 * diffuse * lit.falloff) + (0.8 * gloss * spec)[..., None] * lit.falloff


def nozzle(rng: np.random.Generator, big: int, unit_px: float, target: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hot end seen from an oblique camera: a brass cone from the tip at `target` towards an
    image edge, its hexagonal body, then the heater block in its silicone sock.

    Returns (region bool, linear colour (H, W, 3), shadow weight (H, W)) on the `big` grid.
    """
    ys, xs = np.mgrid[0:big, 0:big].astype(np.float32)
    heading = rng.uniform(0, 2 * np.pi)
    d = np.array([np.cos(heading), np.sin(heading)], dtype=np.float32)
    rel_x, rel_y = xs - target[0], ys - target[1]
    along = rel_x * d[0] + rel_y * d[1]
    across = -rel_x * d[1] + rel_y * d[0]
    u = unit_px * rng.uniform(0.8, 1.2)
    cone_len, body_len = 4.0 * u, 10.0 * u
    half = np.where(along < cone_len, 0.8 * u + along * 0.8, np.where(along < body_len, 4.0 * u, 7.0 * u))
    region = (along >= 0) & (np.abs(across) <= half)
    # Metallic look: bright where the round surface faces the camera, a thin highlight off-centre.
    t = np.clip(across / np.maximum(half, 1e-3), -1, 1)
    metal = 0.35 + 0.65 * np.sqrt(np.clip(1 - t * t, 0, 1)) + 0.8 * np.exp(-((t - 0.35) / 0.08) ** 2)
    sock = linear(SOCKS[int(rng.integers(len(SOCKS)))])
    colour = np.where((along >= body_len)[..., None], sock * (0.5 + 0.5 * metal[..., None] ** 0.5), linear(BRASS) * metal[..., None])
    shift = rng.uniform(2.0, 5.0) * u * np.array([np.cos(heading + 2.4), np.sin(heading + 2.4)])
    shadow = ndimage.shift(region.astype(np.float32), (shift[1], shift[0]), order=0)
    shadow = ndimage.gaussian_filter(shadow, 1.5 * u)
    return region, colour.astype(np.float32), shadow


def develop(x: np.ndarray, rng_state: dict, f: int) -> np.ndarray:
    """Optics and sensor: tilted-focus blur, box-filter down to the output size, noise, gamma,
    8-bit quantisation and a JPEG round trip. `rng_state` holds the draws, so a second call
    (the defect-free twin of a shot) develops identically."""
    near, far, ramp = rng_state["blur_near"], rng_state["blur_far"], rng_state["focus_ramp"]
    a = ndimage.gaussian_filter(x, sigma=(near * f, near * f, 0))
    b = ndimage.gaussian_filter(x, sigma=(far * f, far * f, 0))
    x = a * (1 - ramp[..., None]) + b * ramp[..., None]
    h, w = x.shape[0] // f, x.shape[1] // f
    x = x.reshape(h, f, w, f, 3).mean(axis=(1, 3)) * rng_state["gain"]
    x = np.clip(x, 0, None)
    x = x + np.sqrt(rng_state["shot"] * x + rng_state["read"] ** 2) * rng_state["noise"]
    srgb = np.clip(x, 0, 1) ** (1 / 2.2)
    img = Image.fromarray(np.round(srgb * 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=rng_state["quality"])
    buf.seek(0)
    with Image.open(buf) as back:
        return np.asarray(back.convert("RGB")).copy()


def draw_optics(rng: np.random.Generator, preset: Preset, size: int, f: int) -> dict:
    ys, xs = np.mgrid[0 : size * f, 0 : size * f].astype(np.float32) / (size * f - 1) - 0.5
    phi = rng.uniform(0, 2 * np.pi)
    return {
        "blur_near": float(rng.uniform(*preset.blur_px) * 0.6),
        "blur_far": float(rng.uniform(*preset.blur_px)),
        "focus_ramp": np.clip(0.5 + xs * np.cos(phi) + ys * np.sin(phi), 0, 1),
        "gain": (rng.uniform(0.85, 1.25) * rng.normal(1.0, 0.04, 3)).astype(np.float32),
        "shot": float(rng.uniform(0.002, 0.01)),
        "read": float(rng.uniform(*preset.noise)),
        "noise": rng.standard_normal((size, size, 3)).astype(np.float32),
        "quality": int(rng.integers(preset.jpeg_quality[0], preset.jpeg_quality[1] + 1)),
    }
