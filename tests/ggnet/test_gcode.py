"""G-code parser: real slicer files checked against what the files state about themselves, and
small synthetic programs for each feature."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from gg_research.errors import GGError
from gg_research.ggnet.errors import GCodeError
from gg_research.ggnet.gcode import ARC_MAX_SAGITTA_MM, GCodeProgram, parse_gcode

BENCHY = "benchy_prusaslicer_2.3.3.gcode"
CURA = "plate_cura_5.0.0_ultigcode.gcode"
BLOCK = "block_4x4x2_headerless.gcode"


@pytest.fixture(scope="module")
def benchy(gcode_fixtures_dir: Path) -> tuple[GCodeProgram, str]:
    path = gcode_fixtures_dir / BENCHY
    return parse_gcode(path), path.read_text()


def _stated(text: str, pattern: str) -> float:
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"fixture does not state {pattern!r}"
    return float(match.group(1))


def _marker_blocks(text: str, marker: str) -> list[list[str]]:
    """The file's lines cut at each marker line (the part before the first marker dropped)."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith(marker):
            blocks.append([])
        elif blocks:
            blocks[-1].append(line)
    return blocks


def _naive_extrusion(lines: list[str], relative: bool, e: float = 0.0) -> tuple[float, float]:
    """Independent count: E increases on lines that move in X or Y (these files put retractions
    and primes on E-only lines). Returns (extruded, E at the end)."""
    total = 0.0
    for line in lines:
        code = line.split(";", 1)[0].split()
        if not code:
            continue
        words = {w[0]: w[1:] for w in code[1:]}
        if code[0] == "G92" and "E" in words:
            e = float(words["E"])
        elif code[0] in ("G0", "G1") and "E" in words:
            de = float(words["E"]) if relative else float(words["E"]) - e
            e = e + de
            if de > 0 and ("X" in words or "Y" in words):
                total += de
    return total, e


# --- real files -------------------------------------------------------------------------------


def test_benchy_layers_follow_the_slicer_markers(benchy: tuple[GCodeProgram, str]) -> None:
    program, text = benchy
    stated_z = [float(z) for z in re.findall(r"^;Z:([\d.]+)", text, re.MULTILINE)]
    assert len(program.layers) == text.count(";LAYER_CHANGE") == len(stated_z)
    assert [layer.index for layer in program.layers] == list(range(len(stated_z)))
    np.testing.assert_allclose([layer.z for layer in program.layers], stated_z, atol=1e-9)
    assert program.layers[0].z == _stated(text, r"^; first_layer_height = ([\d.]+)")


def test_benchy_filament_matches_the_slicer_total(benchy: tuple[GCodeProgram, str]) -> None:
    program, text = benchy
    stated = _stated(text, r"^; filament used \[mm\] = ([\d.]+)")
    total = sum(layer.extruded_e for layer in program.layers)
    assert total == pytest.approx(stated, abs=0.01)  # the header rounds to 2 decimals


def test_benchy_per_layer_extrusion_matches_an_independent_count(benchy: tuple[GCodeProgram, str]) -> None:
    program, text = benchy
    blocks = _marker_blocks(text, ";LAYER_CHANGE")
    expected = [_naive_extrusion(lines, relative=True)[0] for lines in blocks]
    np.testing.assert_allclose([layer.extruded_e for layer in program.layers], expected, rtol=0, atol=1e-6)


def test_benchy_segments_are_consistent_with_path_length_and_bounds(benchy: tuple[GCodeProgram, str]) -> None:
    program, _ = benchy
    for layer in program.layers:
        seg = layer.segments
        assert seg.dtype == np.float64 and seg.ndim == 2 and seg.shape[1] == 4 and len(seg) > 0
        assert layer.path_length == pytest.approx(np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]).sum())
        xmin, ymin, xmax, ymax = layer.bounds
        assert xmin == min(seg[:, 0].min(), seg[:, 2].min()) and ymax == max(seg[:, 1].max(), seg[:, 3].max())
    # The travel to the first perimeter start (43.29, 31.3) is not drawn; the first bead starts there.
    first = program.layers[0].segments[0]
    assert tuple(first[:2]) == (43.29, 31.3)


def test_cura_plate_matches_its_header(gcode_fixtures_dir: Path) -> None:
    text = (gcode_fixtures_dir / CURA).read_text()
    program = parse_gcode(gcode_fixtures_dir / CURA)
    assert len(program.layers) == _stated(text, r"^;LAYER_COUNT:(\d+)")
    assert program.layers[0].z == pytest.approx(_stated(text, r"^;MINZ:([\d.]+)"))
    assert program.layers[-1].z == pytest.approx(_stated(text, r"^;MAXZ:([\d.]+)"))
    # UltiGCode extrudes by volume; the header states the material in whole mm^3.
    total = sum(layer.extruded_e for layer in program.layers)
    assert total == pytest.approx(_stated(text, r"^;MATERIAL:(\d+)"), abs=1.0)
    xs = [v for layer in program.layers for v in (layer.bounds[0], layer.bounds[2])]
    ys = [v for layer in program.layers for v in (layer.bounds[1], layer.bounds[3])]
    assert (min(xs), min(ys), max(xs), max(ys)) == pytest.approx(
        tuple(_stated(text, rf"^;{k}:([\d.]+)") for k in ("MINX", "MINY", "MAXX", "MAXY"))
    )


def test_cura_per_layer_extrusion_matches_an_independent_count(gcode_fixtures_dir: Path) -> None:
    text = (gcode_fixtures_dir / CURA).read_text()
    program = parse_gcode(gcode_fixtures_dir / CURA)
    e = 0.0
    expected = []
    for lines in _marker_blocks(text, ";LAYER:"):
        extruded, e = _naive_extrusion(lines, relative=False, e=e)
        expected.append(extruded)
    np.testing.assert_allclose([layer.extruded_e for layer in program.layers], expected, rtol=0, atol=1e-6)


def test_headerless_block_needs_no_header(gcode_fixtures_dir: Path) -> None:
    text = (gcode_fixtures_dir / BLOCK).read_text()
    program = parse_gcode(gcode_fixtures_dir / BLOCK)
    stated_z = [float(z) for z in re.findall(r"^;Z:([\d.]+)", text, re.MULTILINE)]
    # The fragment opens mid-layer before any marker: that layer, then one per marker.
    assert len(program.layers) == len(stated_z) + 1
    assert math.isnan(program.layers[0].z)
    np.testing.assert_allclose([layer.z for layer in program.layers[1:]], stated_z)
    # Only the very first move starts from an unknown place; it is the one thing not counted.
    total = sum(layer.extruded_e for layer in program.layers)
    assert total == pytest.approx(_stated(text, r"^; filament used \[mm\] = ([\d.]+)"), abs=0.1)
    assert total < _stated(text, r"^; filament used \[mm\] = ([\d.]+)")


# --- features, on synthetic programs ----------------------------------------------------------

SQUARE_ABS = """
G21
G90
M82
G92 E0
G1 Z0.2 F3000
G0 X0 Y0
G1 X10 Y0 E1.0
G1 X10 Y10 E2.0
G1 X0 Y10 E3.0
G1 X0 Y0 E4.0
"""

SQUARE_REL = """
G21
G90
M83
G1 Z0.2 F3000
G0 X0 Y0
G1 X10 Y0 E1.0
G1 X10 Y10 E1.0
G1 X0 Y10 E1.0
G1 X0 Y0 E1.0
"""

SQUARE_SEGMENTS = [[0, 0, 10, 0], [10, 0, 10, 10], [10, 10, 0, 10], [0, 10, 0, 0]]


def _one_layer(text: str):
    program = parse_gcode(text=text)
    assert len(program.layers) == 1, [layer.z for layer in program.layers]
    return program.layers[0]


def test_absolute_and_relative_extrusion_give_the_same_layer() -> None:
    a, r = _one_layer(SQUARE_ABS), _one_layer(SQUARE_REL)
    np.testing.assert_array_equal(a.segments, SQUARE_SEGMENTS)
    np.testing.assert_array_equal(a.segments, r.segments)
    assert a.extruded_e == r.extruded_e == pytest.approx(4.0)
    assert a.path_length == pytest.approx(40.0) and a.bounds == (0.0, 0.0, 10.0, 10.0)
    assert a.z == pytest.approx(0.2) and a.index == 0


def test_g92_resets_extruder_count() -> None:
    text = SQUARE_ABS.replace("G1 X0 Y10 E3.0", "G92 E0\nG1 X0 Y10 E1.0").replace("X0 Y0 E4.0", "X0 Y0 E2.0")
    layer = _one_layer(text)
    assert layer.extruded_e == pytest.approx(4.0)
    np.testing.assert_array_equal(layer.segments, SQUARE_SEGMENTS)


def test_g92_sets_axis_positions() -> None:
    layer = _one_layer("G92 X5 Y5 Z0.3 E0\nG1 X15 Y5 E1\n")
    np.testing.assert_array_equal(layer.segments, [[5, 5, 15, 5]])
    assert layer.z == pytest.approx(0.3)


@pytest.mark.parametrize("mode", ["M82", "M83"])
def test_retraction_and_prime_are_not_extrusion(mode: str) -> None:
    if mode == "M83":
        body = "G1 X10 Y0 E1\nG1 E-0.8\nG0 X20 Y0\nG1 E0.8\nG1 X30 Y0 E1\nG1 X30 Y5 E-0.5\nG1 E0.5\n"
    else:
        body = "G1 X10 Y0 E1\nG1 E0.2\nG0 X20 Y0\nG1 E1\nG1 X30 Y0 E2\nG1 X30 Y5 E1.5\nG1 E2\n"
    layer = _one_layer(f"{mode}\nG92 E0\nG1 Z0.2\nG0 X0 Y0\n{body}")
    # Two beads; the travel, the wipe (retracting while moving) and both primes draw nothing.
    np.testing.assert_array_equal(layer.segments, [[0, 0, 10, 0], [20, 0, 30, 0]])
    assert layer.extruded_e == pytest.approx(2.0)


def test_prime_beyond_the_retraction_is_not_toolpath() -> None:
    layer = _one_layer("M83\nG1 Z0.2\nG0 X0 Y0\nG1 E5 ; purge blob\nG1 X10 Y0 E1\n")
    assert layer.extruded_e == pytest.approx(1.0)


def test_firmware_retraction_is_not_extrusion_and_tool_offsets_are_ignored() -> None:
    layer = _one_layer("M82\nG92 E0\nG1 Z0.2\nG0 X0 Y0\nG11\nG1 X10 Y0 E1\nG10\nG0 X20 Y0\nG11\n"
                       "G10 L2 P1 X5 Y5\nG1 X30 Y0 E2\n")
    np.testing.assert_array_equal(layer.segments, [[0, 0, 10, 0], [20, 0, 30, 0]])
    assert layer.extruded_e == pytest.approx(2.0)


def test_z_hop_is_not_a_layer() -> None:
    text = "M83\nG1 Z0.2\nG0 X0 Y0\nG1 X10 Y0 E1\nG1 Z0.6\nG0 X20 Y0\nG1 Z0.2\nG1 X30 Y0 E1\n"
    layer = _one_layer(text)
    assert layer.z == pytest.approx(0.2) and len(layer.segments) == 2
    # Same with slicer markers present (the marker mode of the parser).
    layer = _one_layer(";LAYER:0\n" + text)
    assert len(layer.segments) == 2


def test_plain_z_changes_make_layers_without_markers() -> None:
    program = parse_gcode(text="M83\nG1 Z0.2\nG0 X0 Y0\nG1 X10 Y0 E1\nG1 Z0.4\nG1 X0 Y0 E1\nG1 Z0.6\nG1 X0 Y5\n")
    assert [layer.z for layer in program.layers] == pytest.approx([0.2, 0.4])  # no extrusion at 0.6


def test_markers_keep_a_spiral_layer_whole() -> None:
    # Spiral vase: Z rises during extrusion; the slicer's markers, not each Z, make the layers.
    lines = ["M83", ";LAYER:0", "G1 Z0.2", "G0 X0 Y0"]
    for layer in range(2):
        if layer:
            lines.append(f";LAYER:{layer}")
        for k in range(4):
            z = 0.2 + 0.2 * layer + 0.05 * (k + 1)
            lines.append(f"G1 X{10 * ((k + 1) % 2)} Y{10 * ((k + 1) // 2 % 2)} Z{z:.2f} E0.5")
    program = parse_gcode(text="\n".join(lines))
    assert len(program.layers) == 2 and [len(layer.segments) for layer in program.layers] == [4, 4]


def test_relative_positioning_g91() -> None:
    layer = _one_layer("G90\nG92 E0\nG1 Z0.2\nG0 X1 Y1\nG91\nG1 X10 Y0 E1\nG1 X0 Y5 E1\nG90\n")
    np.testing.assert_array_equal(layer.segments, [[1, 1, 11, 1], [11, 1, 11, 6]])
    assert layer.extruded_e == pytest.approx(2.0)


def test_inches() -> None:
    layer = _one_layer("G20\nM83\nG1 Z0.01\nG0 X0 Y0\nG1 X1 Y0.5 E0.1\n")
    np.testing.assert_allclose(layer.segments, [[0, 0, 25.4, 12.7]])
    assert layer.z == pytest.approx(0.254) and layer.extruded_e == pytest.approx(2.54)


def test_line_numbers_checksums_comments_case_and_packed_words() -> None:
    plain = _one_layer(SQUARE_REL)
    variants = [
        "\n".join(f"N{i} {line}*{i % 97}" for i, line in enumerate(SQUARE_REL.strip().splitlines())),
        SQUARE_REL.lower(),
        SQUARE_REL.replace("G1 X10 Y0 E1.0", "G1 X10 (not E5 here) Y0 E1.0 ; a comment E9"),
        SQUARE_REL.replace(" ", "").replace("E", " E"),  # packed words (an E after a number: see below)
        SQUARE_REL.replace("G1 X10 Y10 E1.0", "X10 Y10 E1.0"),  # modal G1
        SQUARE_REL.replace("\n", "\r\n"),
    ]
    for text in variants:
        layer = _one_layer(text)
        np.testing.assert_array_equal(layer.segments, plain.segments)
        assert layer.extruded_e == pytest.approx(plain.extruded_e)


def test_named_commands_and_messages_move_nothing() -> None:
    plain = _one_layer(SQUARE_REL)
    text = SQUARE_REL.replace(
        "G0 X0 Y0",
        "G0 X0 Y0\nEXCLUDE_OBJECT_START NAME=bracket_X2Y3E9\nEXCLUDE_OBJECT_DEFINE NAME=part_1 CENTER=5,5 POLYGON=[[0,0],[10,0],[10,10]]\n"
        "SET_FAN_SPEED FAN=fan1 SPEED=0.5\nM117 Layer 1 X99 E5\nT0\nM106 S255",
    )
    layer = _one_layer(text)
    np.testing.assert_array_equal(layer.segments, plain.segments)
    assert layer.extruded_e == pytest.approx(plain.extruded_e)


@pytest.mark.parametrize(
    ("code", "end", "centre", "sweep"),
    [
        ("G3 X0 Y10 I-10 J0", (0, 10), (0, 0), math.pi / 2),  # counter-clockwise quarter
        ("G2 X0 Y-10 I-10 J0", (0, -10), (0, 0), math.pi / 2),  # clockwise quarter
        ("G2 X0 Y10 I-10 J0", (0, 10), (0, 0), 3 * math.pi / 2),  # clockwise the long way
        ("G3 X10 Y0 I-10 J0", (10, 0), (0, 0), 2 * math.pi),  # full circle
        ("G3 X-10 Y0 R10", (-10, 0), (0, 0), math.pi),  # half circle by radius
        ("G2 X0 Y10 R-10", (0, 10), (0, 0), 3 * math.pi / 2),  # negative R: the long way
        ("G2 X0 Y10 R10", (0, 10), (10, 10), math.pi / 2),  # clockwise short way: the other centre
        ("G3 X0 Y-10 R-10", (0, -10), (0, 0), 3 * math.pi / 2),
    ],
)
def test_arcs_are_flattened_to_chords_on_the_circle(code, end, centre, sweep) -> None:
    layer = _one_layer(f"M83\nG1 Z0.2\nG0 X10 Y0\n{code} E2\n")
    seg = layer.segments
    r = 10.0
    # Chords are shorter than the arc: by at most sagitta/(3 r) of its length.
    assert r * sweep * (1 - ARC_MAX_SAGITTA_MM / (3 * r) - 1e-9) <= layer.path_length <= r * sweep
    assert layer.extruded_e == pytest.approx(2.0)
    assert len(seg) > 8  # really flattened, not one chord
    np.testing.assert_allclose(seg[1:, :2], seg[:-1, 2:])  # a continuous path
    np.testing.assert_allclose(seg[0, :2], (10, 0))
    np.testing.assert_allclose(seg[-1, 2:], end, atol=1e-12)
    # Every vertex lies on the circle, and every chord midpoint within the sagitta tolerance.
    pts = np.vstack([seg[:, :2], seg[-1:, 2:]])
    np.testing.assert_allclose(np.hypot(*(pts - centre).T), r, atol=1e-9)
    mids = (seg[:, :2] + seg[:, 2:]) / 2
    assert (r - np.hypot(*(mids - centre).T)).max() <= ARC_MAX_SAGITTA_MM + 1e-12


def test_arc_direction_sets_the_bounds() -> None:
    ccw = _one_layer("M83\nG1 Z0.2\nG0 X10 Y0\nG3 X-10 Y0 I-10 J0 E1\n")
    cw = _one_layer("M83\nG1 Z0.2\nG0 X10 Y0\nG2 X-10 Y0 I-10 J0 E1\n")
    assert ccw.bounds == pytest.approx((-10, 0, 10, 10), abs=1e-9)
    assert cw.bounds == pytest.approx((-10, -10, 10, 0), abs=1e-9)


def test_a_move_from_an_unknown_place_draws_nothing() -> None:
    # A fragment: the first extrusion starts where we cannot know.
    layer = _one_layer("G1 X10 Y0 E5\nG1 X10 Y10 E6\n")
    np.testing.assert_array_equal(layer.segments, [[10, 0, 10, 10]])
    assert layer.extruded_e == pytest.approx(1.0) and math.isnan(layer.z)


# --- bad input --------------------------------------------------------------------------------


def _assert_one_line_naming(exc: pytest.ExceptionInfo, name: str) -> None:
    message = str(exc.value)
    assert name in message and "\n" not in message
    assert isinstance(exc.value, GGError)


def test_no_extrusion_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "travel_only.gcode"
    path.write_text("G28\nG1 Z5\nG0 X10 Y10\nG1 E-1\nG1 E1\n")
    with pytest.raises(GCodeError, match="no extrusion") as exc:
        parse_gcode(path)
    _assert_one_line_naming(exc, str(path))


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.gcode"
    path.write_bytes(b"")
    with pytest.raises(GCodeError, match="no extrusion") as exc:
        parse_gcode(path)
    _assert_one_line_naming(exc, "empty.gcode")


def test_binary_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    png = tmp_path / "photo.gcode"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(GCodeError, match="binary") as exc:
        parse_gcode(png)
    _assert_one_line_naming(exc, str(png))
    bgcode = tmp_path / "part.bgcode"
    bgcode.write_bytes(b"GCDE\x01\x00\x00\x00" + b"\x00" * 64)
    with pytest.raises(GCodeError, match="bgcode") as exc:
        parse_gcode(bgcode)
    _assert_one_line_naming(exc, str(bgcode))


def test_missing_file_and_directory_are_errors_naming_them(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gcode"
    with pytest.raises(GCodeError, match="no such") as exc:
        parse_gcode(missing)
    _assert_one_line_naming(exc, str(missing))
    with pytest.raises(GCodeError, match="directory") as exc:
        parse_gcode(tmp_path)
    _assert_one_line_naming(exc, str(tmp_path))


def test_layer_out_of_range_names_the_file_and_the_range() -> None:
    program = parse_gcode(text=SQUARE_REL, source="square.gcode")
    assert program.layer(0) is program.layers[0]
    for bad in (1, -1, 7.0):
        with pytest.raises(GCodeError, match=r"square\.gcode.*1 layers \(0\.\.0\)") as exc:
            program.layer(bad)
        _assert_one_line_naming(exc, "square.gcode")


def test_arc_without_centre_names_the_line() -> None:
    with pytest.raises(GCodeError, match=r"arc.gcode:3: arc without I/J or R"):
        parse_gcode(text="M83\nG0 X0 Y0 Z0.2\nG2 X5 Y5 E1\n", source="arc.gcode")
    with pytest.raises(GCodeError, match=r"arc.gcode:3: arc radius"):
        parse_gcode(text="M83\nG0 X0 Y0 Z0.2\nG2 X50 Y0 R1 E1\n", source="arc.gcode")


def test_windows_code_page_comments_still_parse(tmp_path: Path) -> None:
    path = tmp_path / "latin.gcode"
    path.write_bytes(("; Düse reinigen\n" + SQUARE_REL).encode("latin-1"))
    assert parse_gcode(path).layers[0].extruded_e == pytest.approx(4.0)
    bom = tmp_path / "bom.gcode"
    bom.write_bytes(b"\xef\xbb\xbf" + SQUARE_REL.strip().encode())
    assert parse_gcode(bom).layers[0].extruded_e == pytest.approx(4.0)


def test_exactly_one_input() -> None:
    with pytest.raises(TypeError):
        parse_gcode()
    with pytest.raises(TypeError):
        parse_gcode("a.gcode", text="G1")
