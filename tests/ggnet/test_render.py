"""Toolpath rendering: known paths give the pixels geometry says they must."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gg_research.ggnet.errors import GCodeError
from gg_research.ggnet.gcode import Layer, parse_gcode
from gg_research.ggnet.render import frame_for, render_layer


def _layer(segments: list[list[float]]) -> Layer:
    seg = np.asarray(segments, dtype=np.float64)
    xs, ys = seg[:, [0, 2]], seg[:, [1, 3]]
    return Layer(index=0, z=0.2, segments=seg, extruded_e=1.0,
                 path_length=float(np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]).sum()),
                 bounds=(xs.min(), ys.min(), xs.max(), ys.max()))


# 2 px per mm, printer origin at pixel (col 5, row 25): row grows as y falls.
M = np.array([[2.0, 0.0, 5.0], [0.0, -2.0, 25.0], [0.0, 0.0, 1.0]])
SQUARE = [[0, 0, 10, 0], [10, 0, 10, 10], [10, 10, 0, 10], [0, 10, 0, 0]]


def _distance_to_square_outline(cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Distance (px) from pixel centres to the outline of the square, in pixel space."""
    x0, x1 = 5.0, 25.0  # columns of x = 0 and x = 10 mm
    y0, y1 = 5.0, 25.0  # rows of y = 10 and y = 0 mm
    dx = np.maximum(np.maximum(x0 - cols, cols - x1), 0.0)
    dy = np.maximum(np.maximum(y0 - rows, rows - y1), 0.0)
    outside = np.hypot(dx, dy)
    inside = np.minimum.reduce([cols - x0, x1 - cols, rows - y0, y1 - rows])
    return np.where((dx > 0) | (dy > 0), outside, np.abs(inside))


def test_square_path_renders_the_expected_pixels() -> None:
    render = render_layer(_layer(SQUARE), (31, 31), bead_width_mm=1.5, mm_to_px=M)
    image = render.image
    assert image.shape == (31, 31) and image.dtype == np.uint8
    rows, cols = np.mgrid[0:31, 0:31].astype(np.float64)
    d = _distance_to_square_outline(cols, rows)
    radius_px = 1.5 * 2.0 / 2.0
    assert (image[d <= radius_px - 0.5] == 255).all()  # the closed ring, corners included
    assert (image[d >= radius_px + 0.5] == 0).all()  # nothing else, the middle empty
    edge = (d > radius_px - 0.5) & (d < radius_px + 0.5)
    assert ((image[edge] > 0) & (image[edge] < 255)).any()  # anti-aliased edge
    # Sharp corners outside the round join stay dark: (col 5 - 1.5, row 25 + 1.5) diagonally.
    assert image[27, 3] < 128


def test_mm_to_px_maps_known_points_to_the_drawn_pixels() -> None:
    # A dot at (7, 3) mm must be drawn centred where the matrix sends it: col 19, row 19.
    render = render_layer(_layer([[7, 3, 7, 3]]), (40, 40), bead_width_mm=2.0, mm_to_px=M)
    image = render.image.astype(np.float64)
    rows, cols = np.mgrid[0:40, 0:40]
    centre = np.array([(image * cols).sum(), (image * rows).sum()]) / image.sum()
    np.testing.assert_allclose(centre, (M @ [7, 3, 1])[:2], atol=1e-6)
    np.testing.assert_allclose(centre, (19, 19), atol=1e-6)
    np.testing.assert_array_equal(render.mm_to_px, M)


def test_bead_width_scales_the_drawn_area() -> None:
    # A long straight bead: area is length x width plus a round cap's disc.
    layer = _layer([[0, 0, 20, 0]])
    areas = {}
    for width in (0.5, 1.0, 2.0, 3.0):
        image = render_layer(layer, (60, 60), bead_width_mm=width, mm_to_px=np.array(
            [[2.0, 0.0, 10.0], [0.0, -2.0, 30.0], [0.0, 0.0, 1.0]])).image
        areas[width] = image.sum() / 255.0
        r_px = width  # width mm * 2 px/mm / 2
        assert areas[width] == pytest.approx(40 * 2 * r_px + np.pi * r_px**2, rel=0.03)
    assert areas[3.0] > areas[2.0] > areas[1.0] > areas[0.5]


def test_frame_for_keeps_aspect_ratio_and_centres() -> None:
    m = frame_for((0.0, 0.0, 10.0, 5.0), (100, 200), margin=0.0)
    assert m[0, 0] == pytest.approx(-m[1, 1]) and m[0, 1] == m[1, 0] == 0.0
    corners = m @ np.array([[0, 0, 1], [10, 0, 1], [10, 5, 1], [0, 5, 1], [5, 2.5, 1]], dtype=float).T
    # Wide box in a wide image: fills it exactly, pixel edges at -0.5 and W-0.5.
    np.testing.assert_allclose(corners[:2].T, [[-0.5, 99.5], [199.5, 99.5], [199.5, -0.5], [-0.5, -0.5], [99.5, 49.5]])


def test_frame_for_margin_and_letterbox() -> None:
    # A tall 5 x 10 mm box in a square image: scaled by its height, centred across.
    m = frame_for((10.0, 20.0, 15.0, 30.0), 101, margin=0.1)
    scale = 101 / (10 * 1.2)
    assert m[0, 0] == pytest.approx(scale)
    top_left = m @ [10.0 - 1.0, 30.0 + 1.0, 1.0]  # corner of the grown box: 1 mm = 0.1 x 10 mm
    assert top_left[1] == pytest.approx(-0.5)
    centre = m @ [12.5, 25.0, 1.0]
    np.testing.assert_allclose(centre[:2], (50.0, 50.0))
    # A degenerate box (one point) still gets a usable frame.
    assert np.isfinite(frame_for((3.0, 3.0, 3.0, 3.0), 64)).all()


def test_default_frame_shows_the_whole_layer_inside_the_margin(gcode_fixtures_dir: Path) -> None:
    program = parse_gcode(gcode_fixtures_dir / "block_4x4x2_headerless.gcode")
    render = render_layer(program.layer(3), (96, 128))
    image = render.image
    assert image.shape == (96, 128)
    np.testing.assert_array_equal(render.mm_to_px, frame_for(program.layer(3).bounds, (96, 128)))
    rows, cols = np.nonzero(image)
    assert rows.min() > 0 and cols.min() > 0 and rows.max() < 95 and cols.max() < 127
    # The block's outer perimeter is 3.6 mm square: the drawn extent matches it plus a bead.
    s = render.mm_to_px[0, 0]
    assert (cols.max() - cols.min() + 1) == pytest.approx((3.6 + 0.45) * s, abs=2.0)


def test_shared_frame_places_layers_consistently(gcode_fixtures_dir: Path) -> None:
    program = parse_gcode(gcode_fixtures_dir / "block_4x4x2_headerless.gcode")
    m = frame_for(program.layer(1).bounds, 64)
    a = render_layer(program.layer(1), 64, mm_to_px=m).image
    b = render_layer(program.layer(2), 64, mm_to_px=m).image
    # Layers 1 and 2 share the perimeter: the outer rings coincide.
    assert np.array_equal(a[:, :8], b[:, :8]) and a.sum() > 0


def test_segments_outside_the_frame_are_clipped() -> None:
    layer = _layer([[-100, 5, 100, 5], [500, 500, 600, 600]])
    image = render_layer(layer, (31, 31), bead_width_mm=1.0, mm_to_px=M).image
    # y = 5 mm is row 15; the bead is 2 px wide, so rows 14 and 16 are half covered.
    assert (image[15] == 255).all()
    assert (np.abs(image[[14, 16]].astype(int) - 128) <= 1).all()
    assert image[:14].sum() == 0 and image[17:].sum() == 0


def test_bad_arguments() -> None:
    layer = _layer(SQUARE)
    with pytest.raises(GCodeError, match="bead width"):
        render_layer(layer, 32, bead_width_mm=0.0)
    with pytest.raises(ValueError, match="affine"):
        render_layer(layer, 32, mm_to_px=np.eye(3) + np.array([[0, 0, 0], [0, 0, 0], [0.1, 0, 0]]))
    with pytest.raises(ValueError, match="size"):
        render_layer(layer, (0, 32))
    with pytest.raises(ValueError, match="bounds"):
        frame_for((1.0, 0.0, 0.0, 1.0), 32)


def test_segments_reaching_far_outside_the_frame_cost_no_memory() -> None:
    import tracemalloc

    # A line 2,000 km long through a 10 mm frame: cut into 2-px pieces whole, it would be ~1e9 pieces.
    far = [[-1e9, 5.0, 1e9, 5.0], [5.0, 5.0, 5.0, 1e9]]
    tracemalloc.start()
    try:
        image = render_layer(_layer(far), (31, 31), bead_width_mm=1.5, mm_to_px=M).image
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000
    near = [[-10.0, 5.0, 20.0, 5.0], [5.0, 5.0, 5.0, 20.0]]  # the same lines, ending just outside the image
    np.testing.assert_array_equal(image, render_layer(_layer(near), (31, 31), bead_width_mm=1.5, mm_to_px=M).image)
    assert (image == 255).sum() > 40
