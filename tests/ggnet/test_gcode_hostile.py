"""G-code parser against hostile or broken input: each is one GCodeError naming the file and
line, never a wrong toolpath, a crash or gigabytes of chords."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from gg_research.errors import GGError
from gg_research.ggnet import gcode as gcode_mod
from gg_research.ggnet.errors import GCodeError
from gg_research.ggnet.gcode import ARC_MAX_CHORDS, ARC_MAX_SAGITTA_MM, parse_gcode

HEAD = "G21\nG90\nM83\nG1 Z0.2 F3000\nG0 X0 Y0\n"  # the bad line is line 6
BEAD = "G1 X10 Y0 E1\n"  # one good bead after it, so a skipped bad line would still parse


def _refused(line: str, pattern: str, *, tail: str = BEAD) -> str:
    with pytest.raises(GCodeError, match=pattern) as err:
        parse_gcode(text=HEAD + line + "\n" + tail, source="hostile.gcode")
    message = str(err.value)
    assert message.startswith("hostile.gcode:6: ") and "\n" not in message, message
    assert isinstance(err.value, GGError)
    return message


def _segments(text: str) -> np.ndarray:
    return parse_gcode(text=text).layers[0].segments


@pytest.mark.parametrize(
    "line",
    [
        "G1 X1e2 Y0 E1",  # Python reads X=100, firmware X1 then E2: neither is taken
        "G1 X1E2 Y0",
        "G1X1e2Y0E1",
        "G1 X10 Y0 E-1.5e-3",
        "G1 X1.E2 Y0 E1",
        "G1 X10 Y0 E1 F1e3",
        "X1e2 Y0 E1",
        "G1 X 1e2 Y0 E1",
        "G1X10Y0E1",  # packed E after a number: the same ambiguity
    ],
)
def test_scientific_notation_is_refused_not_read_either_way(line: str) -> None:
    _refused(line, "ambiguous.*no exponents")


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("G1 X1.2.3 Y0 E1", r"malformed number 'X1\.2\.3'"),
        ("G1 X1,5 Y0 E1", "malformed number 'X1,5'"),
        ("G1 X1_0 Y0 E1", "malformed number 'X1_0'"),
        ("G1 Xnan Y0 E1", "malformed number 'XNAN'"),
        ("G1 X10 Y0 Einf", "malformed number 'EINF'"),
        ("G1 X-inf Y0 E1", "malformed number 'X-INF'"),
        ("G1 X--5 Y0 E1", "malformed number 'X--5'"),
        ("G1 X{x} Y0 E1", "malformed number 'X{X}'"),
        ("G1 X\u0661\u0660 Y0 E1", "malformed number"),  # Arabic-Indic digits: float() would take them
        ("G1 X1" + "0" * 400 + " Y0 E1", r"beyond \+-1e\+09"),  # float() gives inf
        ("G1 X10 Y0 E1 F1.2.3", "malformed number 'F1.2.3'"),
        ("G1 X10 10 E1", "unexpected '10'"),
        ("G1 X10 # E1", "unexpected '#'"),
    ],
)
def test_malformed_numbers_are_errors_with_their_line(line: str, pattern: str) -> None:
    _refused(line, pattern)


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("G1 X10 Q5 E1", "G1 takes E F X Y Z, not Q5"),
        ("G1 X10 A5 E1", "not A5"),
        ("G1 XY10 E1", "X without a number"),
        ("G1 X10 X20 E1", "X given twice"),
        ("S255 X10 E1", "not S255"),
        ("Q5", "not a command"),
        ("G1 G0 X10 E1", "two moves on one line"),
        ("G92 E0 G1 X10 E1", "G1 and G92 on one line"),
        ("G5 I1 J1 P2 Q2 X10 Y10 E1", "G5 carries E"),  # Marlin's Bezier extrudes; we cannot place it
        ("G18\nG2 X10 Y0 I5 J0 E1", r"XZ plane \(G18\)"),
    ],
)
def test_unknown_words_and_commands_are_never_taken_as_moves(line: str, pattern: str) -> None:
    if "\n" in line:  # the error is on the second of the two lines
        with pytest.raises(GCodeError, match=pattern):
            parse_gcode(text=HEAD + line + "\n" + BEAD, source="hostile.gcode")
        return
    _refused(line, pattern)


def test_what_slicers_write_is_read_and_non_moves_draw_nothing() -> None:
    plain = _segments(HEAD + BEAD)
    # G01 and packed axis words are G1 and spaced words, as firmware reads them.
    for variant in ("G01 X10 Y0 E1", "G1X10Y0 E1", "g1 x10 y0 e1", "N7 G1 X10 Y0 E1*57", "G1 X 10 Y 0 E 1",
                    "G1\u00a0X10\u00a0Y0 E1"):  # a non-breaking space pasted from a web page separates too
        np.testing.assert_array_equal(_segments(HEAD + variant + "\n"), plain, err_msg=variant)
    # Tool changes, M-codes (text arguments included), probing and named macros never move or
    # extrude; a T line carrying coordinates and E is still only a tool change.
    noise = (
        "T1\nT0 X50 Y50 E9\nM600 E5 X20\nM117 Layer 1E5 X99\nM104 S215\n"
        "G29 P1 X30 Y0 W50 H20 C\nG4 P500\nG80\n_PRINT_START BED=60\nSET_FAN_SPEED FAN=f SPEED=0.5\n%\n"
    )
    layer = parse_gcode(text=HEAD + noise + BEAD).layers[0]
    np.testing.assert_array_equal(layer.segments, plain)
    assert layer.extruded_e == pytest.approx(1.0)


# --- arcs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("G2 X1 Y0 R-100000000 E1", "radius 1e\\+08 mm over 360 degrees needs 314,159 chords, more than the 10,000"),
        ("G2 X0 Y0 I900000000 J0 E1", "needs 942,478 chords"),
        ("G3 X0 Y0 I5 J0 P100000 E1", "chords, more than"),  # a hundred thousand extra turns
        ("G2 X10 Y0 I0 J0 E1", "centre offset I/J is zero"),
        ("G2 X10 Y0 R0 E1", "R0 cannot join"),
        ("G2 X0 Y0 R5 E1", "cannot end where it starts"),
        ("G2 X50 Y0 I1 J0 E1", "48 mm off its circle"),
        ("G2 X10 Y0 E1", "without I/J or R"),
        ("G2 X0 Y0 I5 J0 P1.5 E1", "whole number of extra turns"),
    ],
)
def test_hostile_arcs_are_one_line_with_their_line_number(line: str, pattern: str) -> None:
    tracemalloc.start()
    try:
        _refused(line, pattern)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, f"refusing {line!r} allocated {peak:,} bytes"


def test_extra_turns_are_flattened() -> None:
    layer = parse_gcode(text=HEAD + "G0 X5 Y0\nG3 X5 Y0 I-5 J0 P2 E1\n").layers[0]
    arc = 3 * 2 * math.pi * 5  # a full circle and two more turns; chords fall short by <= sagitta / 3r
    assert arc * (1 - ARC_MAX_SAGITTA_MM / 15 - 1e-9) <= layer.path_length <= arc
    assert len(layer.segments) <= ARC_MAX_CHORDS


def test_arcs_over_the_file_budget_are_refused_at_the_line_that_crosses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    one = len(parse_gcode(text=HEAD + "G0 X5 Y0\nG3 X5 Y0 I-5 J0 E1\n").layers[0].segments)
    monkeypatch.setattr(gcode_mod, "FILE_MAX_ARC_CHORDS", 3 * one)
    arcs = "G0 X5 Y0\n" + "G3 X5 Y0 I-5 J0 E1\n" * 5  # lines 7..11: the fourth (line 9+1) crosses
    with pytest.raises(GCodeError, match=rf"hostile.gcode:10: the arcs up to this line need {4 * one:,} chords"):
        parse_gcode(text=HEAD + arcs, source="hostile.gcode")
