"""G-code parsing: real slicer output (PrusaSlicer, Cura, Bambu/Orca) into per-layer extruding paths.

A layer is the set of extruding moves made at one height, in print order. Only extrusion
defines layers: travel, Z-hops, retractions and primes never open one. When the file carries
slicer layer markers (`;LAYER:`, `;LAYER_CHANGE`, `;Z:`, `; CHANGE_LAYER`), a new layer opens
at the first extrusion after a marker at a new height; so a spiral-vase layer whose Z creeps
upward stays one layer. Without markers, any extrusion at a new height opens a layer.

Machine state starts unknown where a headerless fragment could not know it: X/Y/Z are
unknown until set (absolute move, G92 or G28), so a first move from an unknown place draws no
segment; E starts at 0 as firmware does at boot.

The parser is a single tight pass over the lines: plain "G1 X.. Y.. E.." lines (nearly all of
a slicer's output) take a split-and-float fast path; anything else is read strictly by
`ggnet.gcode_words` (no scientific notation, no malformed number, no unknown word in a move:
each is an error naming the line). M-codes and tool changes (T0, T1, ...) never move or
extrude; an unknown G-code is ignored unless it carries E (material this parser cannot place).
Arcs are flattened by `ggnet.gcode_arcs`, with a cap on chords per arc and per file. The
75,000-line Benchy parses in about 0.2-0.3 s.

The parser is one state machine (positions, extrusion mode, layers, arcs); what it yields
(`Layer`, `GCodeProgram`) and the builder of one layer are in gcode_layers.py, the word rules and
arcs in gcode_words.py and gcode_arcs.py.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from gg_research.ggnet.errors import GCodeError
from gg_research.ggnet.gcode_arcs import (  # noqa: F401 - ARC_* re-exported for callers
    ARC_MAX_CHORDS,
    ARC_MAX_SAGITTA_MM,
    ARC_MAX_STEP_RAD,
    FILE_MAX_ARC_CHORDS,
    arc_chords,
)
from gg_research.ggnet.gcode_layers import GCodeProgram, Layer, LayerBuilder
from gg_research.ggnet.gcode_words import MAX_ABS_VALUE, move_params, read_words, strip_line_number

# Height difference (mm) below which two extrusion heights are the same layer; slicers print
# Z with 3 decimals, so this only absorbs float noise.
Z_TOLERANCE_MM = 1e-4
INCH_MM = 25.4
# G-codes that change the parser's state or that it knowingly ignores (dwell, firmware
# retraction and tool offsets); any other G-code is ignored unless it carries E.
_STATE_GCODES = frozenset({4.0, 10.0, 11.0, 17.0, 18.0, 19.0, 20.0, 21.0, 28.0, 90.0, 91.0, 92.0})
_MCODE = re.compile(r"\s*M\s*(\d+)(?![\d.])")
_MARKER = re.compile(r"^\s*;\s*(?:LAYER:|LAYER_CHANGE|Z:|CHANGE_LAYER)", re.MULTILINE | re.IGNORECASE)
_EXTENDED = re.compile(r"\s*_?[A-Z][A-Z_]")
_PAREN_COMMENT = re.compile(r"\([^)]*\)")
# How much of a file's start is checked for NUL bytes (never in text, always in images, zips
# and binary G-code) to tell a binary file.
_BINARY_PROBE = 65536


def parse_gcode(
    path: str | os.PathLike | None = None, *, text: str | None = None, source: str | None = None
) -> GCodeProgram:
    """Parse a G-code file (`path`) or G-code `text` into its extruding layers.

    `source` names the input in error messages and on the result (default: the path, or
    "<text>"). Raises GCodeError (one line naming the file) for a missing, unreadable or
    binary file, or one with no extrusion at all.
    """
    if (path is None) == (text is None):
        raise TypeError("parse_gcode takes exactly one of `path` or `text=`")
    if path is not None:
        name = source or str(path)
        text = _read_text(Path(path), name)
    else:
        name = source or "<text>"
    layers = _Parser(name, text).run()
    if not layers:
        raise GCodeError(f"{name}: no extrusion found (no move that both moves in X/Y and extrudes); is this G-code?")
    return GCodeProgram(source=name, layers=layers)


def _read_text(path: Path, name: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise GCodeError(f"{name}: no such G-code file") from None
    except IsADirectoryError:
        raise GCodeError(f"{name}: is a directory, not a G-code file") from None
    except OSError as exc:
        raise GCodeError(f"{name}: cannot read G-code file ({exc.strerror or exc})") from None
    head = data[:_BINARY_PROBE]
    if head.startswith(b"GCDE"):
        raise GCodeError(f"{name}: binary G-code (.bgcode) is not supported; export plain-text G-code")
    if b"\x00" in head:
        raise GCodeError(f"{name}: binary file, not text G-code")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Slicers on Windows write comments in the local code page; the commands are ASCII.
        text = data.decode("latin-1")
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:_BINARY_PROBE])
        if printable < 0.95 * min(len(text), _BINARY_PROBE):
            raise GCodeError(f"{name}: binary file, not text G-code") from None
        return text


class _Parser:
    """One pass over the lines with the machine state in locals-like attributes."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.plane = 17  # G17 (XY), G18 (XZ) or G19 (YZ): the plane arcs turn in

    def run(self) -> list[Layer]:  # noqa: C901 - one tight loop is the point (speed)
        nan = math.nan
        x = y = z = nan
        e = 0.0
        abs_xyz = True
        abs_e = True
        unit = 1.0
        motion = 0  # modal motion mode: 0, 1, 2 or 3
        retracted = 0.0  # filament owed back by primes after retractions (mm of E)
        use_markers = _MARKER.search(self.text) is not None
        marker_pending = True
        layers: list[LayerBuilder] = []
        cur: LayerBuilder | None = None
        arc_total = 0
        hypot = math.hypot
        fast_heads = {"G0": 0, "G1": 1, "G00": 0, "G01": 1}
        lim = MAX_ABS_VALUE
        ascii_text = self.text.isascii()  # then no line needs its own check

        for lineno, raw in enumerate(self.text.splitlines(), 1):
            semi = raw.find(";")
            if semi >= 0:
                line = raw[:semi]
                if not line or line.isspace():
                    if use_markers and _is_marker(raw, semi):
                        marker_pending = True
                    continue
            else:
                line = raw
            if "*" in line:
                line = line[: line.find("*")]  # checksum
            if "(" in line:
                line = _PAREN_COMMENT.sub(" ", line)
            up = line.upper()
            toks = up.split()
            if not toks:
                continue

            # Fast path: a plain "G1 X.. Y.. E.." line, most of any slicer's output. float()
            # also takes "1e2", "1_0", "nan" and non-ASCII digits, so the line-wide checks after
            # the loop send those to the strict reader, which refuses them with the line.
            params = None
            move = fast_heads.get(toks[0])
            if move is not None:
                px = py = pz = pe = None
                try:
                    for tok in toks[1:]:
                        v = float(tok[1:])
                        if not -lim <= v <= lim:
                            raise ValueError(tok)
                        letter = tok[0]
                        if letter == "X" and px is None:
                            px = v
                        elif letter == "Y" and py is None:
                            py = v
                        elif letter == "Z" and pz is None:
                            pz = v
                        elif letter == "E" and pe is None:
                            pe = v
                        elif letter != "F":
                            raise ValueError(tok)
                    if up.count("E") != (pe is not None) or "_" in up or not (ascii_text or up.isascii()):
                        raise ValueError(up)
                    motion = move
                except ValueError:
                    move = None  # packed words, odd spacing, more codes or bad input: the strict path
            if move is None:
                move, motion, params, abs_xyz, abs_e, unit, x, y, z, e = self._general(
                    up, lineno, motion, abs_xyz, abs_e, unit, x, y, z, e
                )
                if move is None:
                    continue
                px = params.get("X")
                py = params.get("Y")
                pz = params.get("Z")
                pe = params.get("E")

            # Target position.
            if abs_xyz:
                nx = x if px is None else px * unit
                ny = y if py is None else py * unit
                nz = z if pz is None else pz * unit
            else:
                nx = x if px is None else x + px * unit
                ny = y if py is None else y + py * unit
                nz = z if pz is None else z + pz * unit
            de = 0.0
            if pe is not None:
                if abs_e:
                    de = pe * unit - e
                    e = pe * unit
                else:
                    de = pe * unit
                    e += de

            # Retraction and prime bookkeeping: what a prime pays back is not new material.
            extruded = 0.0
            if de < 0.0:
                retracted -= de
            elif de > 0.0:
                if retracted > 0.0:
                    paid = de if de < retracted else retracted
                    retracted -= paid
                    extruded = de - paid
                else:
                    extruded = de

            # A move from an unknown place (a headerless fragment's first move) is not
            # counted: where its material went, and how much (E may continue a count from
            # before the fragment), is unknown. A move with E but no X/Y word is a purge or
            # prime blob, not toolpath; one naming X/Y, even where it stands, is a bead.
            if extruded > 0.0 and (px is not None or py is not None) and x == x and y == y and nx == nx and ny == ny:
                if cur is None:
                    new_layer = True
                elif nz != nz or cur.z != cur.z:
                    new_layer = (nz == nz) != (cur.z == cur.z) and (marker_pending or not use_markers)
                else:
                    new_layer = abs(nz - cur.z) > Z_TOLERANCE_MM and (marker_pending or not use_markers)
                if new_layer:
                    cur = LayerBuilder(nz)
                    layers.append(cur)
                marker_pending = False
                if move >= 2:
                    where = f"{self.name}:{lineno}"
                    chords = arc_chords(x, y, nx, ny, params, unit, move == 2, where)
                    arc_total += len(chords)
                    if arc_total > FILE_MAX_ARC_CHORDS:
                        raise GCodeError(
                            f"{where}: the arcs up to this line need {arc_total:,} chords, more than the "
                            f"{FILE_MAX_ARC_CHORDS:,} allowed per file"
                        )
                    cur.add_chords(chords)
                else:
                    cur.segs.append((x, y, nx, ny))
                    cur.length += hypot(nx - x, ny - y)
                cur.e += extruded
            x, y, z = nx, ny, nz

        return [b.finish(i) for i, b in enumerate(layers)]

    def _general(
        self, upper: str, lineno: int, motion: int, abs_xyz: bool, abs_e: bool, unit: float,
        x: float, y: float, z: float, e: float,
    ) -> tuple:  # noqa: C901
        """Any line the fast path does not take: modal codes, G92, G28, arcs, packed words, bad input.

        `upper` is the line upper-cased without comments. Returns
        (move or None, motion, params, abs_xyz, abs_e, unit, x, y, z, e)."""
        unchanged = (None, motion, {}, abs_xyz, abs_e, unit, x, y, z, e)
        upper = strip_line_number(upper)
        head = upper.lstrip()[:1]
        if not head or upper.strip() == "%" or _EXTENDED.match(upper):
            # Klipper/RRF named commands (EXCLUDE_OBJECT_START NAME=..., SET_FAN_SPEED ...)
            # move nothing; their arguments must not be read as axis words.
            return unchanged
        if head == "M":
            # M-codes never move or extrude; their arguments may be text (M117 Layer 1 E5).
            m = _MCODE.match(upper)
            code = int(m.group(1)) if m else -1
            if code in (82, 83):
                abs_e = code == 82
            return None, motion, {}, abs_xyz, abs_e, unit, x, y, z, e
        if head == "T":
            return unchanged  # a tool change selects a tool: no move, no material
        where = f"{self.name}:{lineno}"
        gcodes: list[float] = []
        words: list[tuple[str, float | None]] = []
        for letter, value in read_words(upper, where):
            if letter != "G":
                words.append((letter, value))
            elif value is None:
                raise GCodeError(f"{where}: G without a number")
            else:
                gcodes.append(value)
        moves = [g for g in gcodes if g in (0.0, 1.0, 2.0, 3.0)]
        if len(moves) > 1:
            raise GCodeError(f"{where}: two moves on one line ({' '.join(f'G{g:g}' for g in moves)})")
        if moves:
            axis_codes = [g for g in gcodes if g in (10.0, 28.0, 92.0)]
            if axis_codes:
                raise GCodeError(f"{where}: G{moves[0]:g} and G{axis_codes[0]:g} on one line: whose are the axis words?")
            motion = int(moves[0])
        elif not gcodes:
            motion_words = set("XYZE") | (set("IJR") if motion >= 2 else set())
            if not any(letter in motion_words for letter, _ in words):
                if words:
                    raise GCodeError(f"{where}: {upper.strip()!r} is not a command (no G, M or T code, and no coordinates)")
                return unchanged
        for g in gcodes:
            if g == 90:
                abs_xyz = abs_e = True  # Marlin/Klipper: G90 sets E absolute too
            elif g == 91:
                abs_xyz = abs_e = False
            elif g == 21:
                unit = 1.0
            elif g == 20:
                unit = INCH_MM
            elif g in (17.0, 18.0, 19.0):
                self.plane = int(g)
            elif g == 92:
                given = _axis_values(words, where)
                if not words:
                    x = y = z = e = 0.0
                else:
                    x = given["X"] * unit if "X" in given else x
                    y = given["Y"] * unit if "Y" in given else y
                    z = given["Z"] * unit if "Z" in given else z
                    e = given["E"] * unit if "E" in given else e
            elif g == 28:
                named = {letter for letter, _ in words}
                if not named & {"X", "Y", "Z"}:
                    x = y = z = 0.0
                else:
                    x = 0.0 if "X" in named else x
                    y = 0.0 if "Y" in named else y
                    z = 0.0 if "Z" in named else z
            elif g not in _STATE_GCODES and not moves and any(letter == "E" and v for letter, v in words):
                raise GCodeError(f"{where}: G{g:g} carries E (extrusion) but only G0-G3 moves are understood")
            # G10/G11 (firmware retraction) carry no E, so E bookkeeping needs nothing.
        if not moves and gcodes:
            return None, motion, {}, abs_xyz, abs_e, unit, x, y, z, e
        if motion >= 2 and self.plane != 17:
            raise GCodeError(f"{where}: arcs in the {'XZ' if self.plane == 18 else 'YZ'} plane (G{self.plane}) are not supported")
        params = move_params(words, motion, where)
        return motion, motion, params, abs_xyz, abs_e, unit, x, y, z, e


def _axis_values(words: list[tuple[str, float | None]], where: str) -> dict[str, float]:
    """X/Y/Z/E values of a G92 line; a bare letter sets nothing (as Marlin's seenval)."""
    out: dict[str, float] = {}
    for letter, value in words:
        if letter in "XYZE" and value is not None:
            if letter in out:
                raise GCodeError(f"{where}: {letter} given twice on one line")
            out[letter] = value
    return out


def _is_marker(raw: str, semi: int) -> bool:
    if raw[:semi].strip():
        return False
    body = raw[semi + 1 :].lstrip().upper()
    return body.startswith(("LAYER:", "LAYER_CHANGE", "Z:", "CHANGE_LAYER"))
