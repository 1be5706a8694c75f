"""Strict reading of the words of one G-code line, for the lines the parser's fast path does not take.

What counts as a word, decided from what slicers emit and what firmware reads:

- A word is a letter and a plain decimal number ("X12.5", "E-.4", "G1"); spaces between the
  letter and its number, and between words, are optional ("G1X10Y5" is X10 then Y5, as
  firmware reads it).
- G-code has no exponents. "X1e2" is 100 to Python and C but X1 then E2 to Marlin and
  Klipper, so any number directly followed by E and a digit is refused as ambiguous, never
  read either way. (No slicer writes it; every slicer puts a space before the E word.)
- A malformed number ("X1.2.3", "X1,5", "X{x}", "Xnan"), a letter given twice, and any number
  beyond +-MAX_ABS_VALUE are errors naming the line: beyond that bound no value is a printer
  coordinate, feed rate or E count, and below it every sum the parser forms stays finite.
- Moves (G0/G1, G2/G3 and bare coordinates continuing them) take only the words in
  MOVE_WORDS; any other word is an error rather than an ignored axis or option.
"""

from __future__ import annotations

import re

from gg_research.ggnet.errors import GCodeError

MAX_ABS_VALUE = 1e9
# The words each move takes (N, the line number, is dropped before): G2/G3 add the centre
# offset I/J, the radius R and P, the count of extra full turns (Marlin, RepRapFirmware).
MOVE_WORDS = {0: frozenset("XYZEF"), 1: frozenset("XYZEF"), 2: frozenset("XYZEFIJRP"), 3: frozenset("XYZEFIJRP")}

_TOKEN = re.compile(r"([A-Z])\s*([^A-Z\s]*)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)", re.ASCII)
_EXPONENT = re.compile(r"[A-Z]\s*[-+]?[0-9.]+E[-+]?[0-9.]+")
_LINE_NUMBER = re.compile(r"\s*N\s*\d+\s*")
_NOT_A_NUMBER = re.compile(r"[A-Z]\s*[-+]?(?:NAN|INF)")
_SHOWN = 24  # characters of a bad word shown in a message


def strip_line_number(line: str) -> str:
    """`line` without a leading "N123" line number."""
    m = _LINE_NUMBER.match(line)
    return line[m.end() :] if m else line


def read_words(line: str, where: str) -> list[tuple[str, float | None]]:
    """The words of an upper-case, comment-free line: (letter, value, or None for a bare letter).

    `where` ("file:line") starts every error message.
    """
    ambiguous = _EXPONENT.search(line)
    if ambiguous:
        raise GCodeError(
            f"{where}: {ambiguous.group()!r} is ambiguous: scientific notation to some programs, a number and "
            "then an E word to firmware; G-code has no exponents, so write plain decimals with a space before E"
        )
    nonfinite = _NOT_A_NUMBER.search(line)
    if nonfinite:
        raise GCodeError(f"{where}: malformed number {_chunk(line, nonfinite.start())!r}")
    words: list[tuple[str, float | None]] = []
    pos = 0
    for m in _TOKEN.finditer(line):
        gap = line[pos : m.start()].strip()
        if gap:
            raise GCodeError(f"{where}: unexpected {gap!r} (a G-code word is a letter and a number)")
        letter, text = m.group(1), m.group(2)
        value: float | None = None
        if text:
            if not _NUMBER.fullmatch(text):
                raise GCodeError(f"{where}: malformed number {_chunk(line, m.start())!r}")
            value = float(text)
            if not -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:
                raise GCodeError(f"{where}: {_chunk(line, m.start())!r} is beyond +-{MAX_ABS_VALUE:.0e}, not a printer value")
        words.append((letter, value))
        pos = m.end()
    rest = line[pos:].strip()
    if rest:
        raise GCodeError(f"{where}: unexpected {rest!r} (a G-code word is a letter and a number)")
    return words


def move_params(words: list[tuple[str, float | None]], motion: int, where: str) -> dict[str, float]:
    """The parameters of a move line (G words and N already dropped), checked against MOVE_WORDS."""
    allowed = MOVE_WORDS[motion]
    params: dict[str, float] = {}
    for letter, value in words:
        if letter not in allowed:
            shown = letter if value is None else f"{letter}{value:g}"
            raise GCodeError(
                f"{where}: G{motion} takes {' '.join(sorted(allowed))}, not {shown} (an unknown word is never taken as a move)"
            )
        if value is None:
            raise GCodeError(f"{where}: {letter} without a number in a G{motion} move")
        if letter in params:
            raise GCodeError(f"{where}: {letter} given twice on one line")
        params[letter] = value
    return params



def _chunk(line: str, start: int) -> str:
    """The run of non-blank characters from `start`, shortened for a message."""
    end = start
    while end < len(line) and not line[end].isspace():
        end += 1
    text = line[start:end]
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
