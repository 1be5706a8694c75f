"""Coordinate conventions and warps shared by the dataset, the metrics and train.py.

Normalised coordinates follow kornia/`align_corners=True`: pixel x in [0, W-1] maps to
u = 2x/(W-1) - 1 in [-1, 1], likewise y. A transform `theta` (3x3) maps homogeneous points
of the *render* frame to the *camera* frame, both normalised; warping the render into the
camera frame samples the render at theta^-1 applied to each camera pixel.
"""

from __future__ import annotations

import numpy as np


def pixel_to_norm(height: int, width: int) -> np.ndarray:
    """3x3 matrix taking pixel coordinates (x, y, 1) to normalised (u, v, 1)."""
    sx = 2.0 / max(width - 1, 1)
    sy = 2.0 / max(height - 1, 1)
    return np.array([[sx, 0.0, -1.0], [0.0, sy, -1.0], [0.0, 0.0, 1.0]], dtype=np.float64)


def pixel_homography_to_norm(
    h_px: np.ndarray, src_hw: tuple[int, int], dst_hw: tuple[int, int]
) -> np.ndarray:
    """Convert a homography between pixel frames (src -> dst) to normalised coordinates."""
    n_src = pixel_to_norm(*src_hw)
    n_dst = pixel_to_norm(*dst_hw)
    theta = n_dst @ np.asarray(h_px, dtype=np.float64) @ np.linalg.inv(n_src)
    return theta / theta[2, 2]


def warp_to_camera(render, theta, out_hw: tuple[int, int] | None = None, mode: str = "bilinear"):
    """Warp a (B, C, H, W) render tensor into the camera frame with (B, 3, 3) normalised theta.

    Differentiable in both `render` and `theta` (kornia's homography warp).
    """
    import torch
    from kornia.geometry.transform import homography_warp

    h, w = out_hw if out_hw is not None else render.shape[-2:]
    theta = theta.to(render.dtype)
    # homography_warp wants the map from destination (camera) to source (render).
    cam_to_render = torch.linalg.inv(theta.float()).to(render.dtype)
    return homography_warp(
        render, cam_to_render, (h, w), mode=mode, padding_mode="zeros", align_corners=True, normalized_coordinates=True
    )


def resize_scale(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> np.ndarray:
    """Pixel map (col, row, 1) of an image resized from src to dst (pixel centres at integers).

    A resize maps pixel areas: the edge -0.5 stays at -0.5 and W-0.5 goes to W'-0.5.
    """
    sy, sx = dst_hw[0] / src_hw[0], dst_hw[1] / src_hw[1]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def render_to_camera_theta(
    gcode_to_image: np.ndarray, image_hw: tuple[int, int], mm_to_px_render: np.ndarray, size: int
) -> np.ndarray:
    """Normalised render->camera theta for a render and a camera image both resized to size x size."""
    h = resize_scale(image_hw, (size, size)) @ gcode_to_image @ np.linalg.inv(mm_to_px_render)
    return pixel_homography_to_norm(h, (size, size), (size, size))
