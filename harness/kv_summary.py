"""The `---` summary a training script prints, read as it is (the autoresearch convention).

    ---
    val_bpb:          0.997900
    training_seconds: 300.1
    peak_vram_mb:     45060.2
    device:           cuda

What the command printed is untrusted: only the log's tail is read (a bounded number of bytes,
never following a link), a block is the `key: value` lines after the last line that is exactly
`---`, keys are identifiers, values are bounded, and a number is finite or it is no number. A
value with a unit suffix (`-15.2%`) keeps its number; `true`/`false` are 1/0; anything else is kept
as short text (a device name, a path) and never scored.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_TAIL_BYTES = 256 * 1024  # a summary is a few hundred bytes; the tail also serves a crash's last lines
MAX_KEYS = 64
MAX_TEXT = 120

_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\-]{0,63})\s*:\s*(.{0,200})$")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(%?)$")
_BOOLS = {"true": 1.0, "false": 0.0}


@dataclass
class KVSummary:
    """A parsed block: numbers (finite only) and short texts, in the order printed."""

    numbers: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # key -> why its value was not taken (nan, too long)

    def __bool__(self) -> bool:
        return bool(self.numbers or self.texts)


def parse_value(raw: str) -> float | str | None:
    """A number (finite), a short text, or None for a value that must not be read as either (nan, inf)."""
    value = raw.strip()
    low = value.lower()
    if low in _BOOLS:
        return _BOOLS[low]
    if low.lstrip("+-") in ("nan", "inf", "infinity"):
        return None
    m = _NUMBER.match(value)
    if m:
        number = float(value[:-1] if m.group(1) else value)
        return number if math.isfinite(number) else None
    if not value or len(value) > MAX_TEXT or not value.isprintable():
        return None
    return value


def parse_kv_summary(text: str) -> KVSummary | None:
    """The block after the last `---` line of `text`, or None when there is no `---` line.

    The block is the run of `key: value` lines that follows (blank lines are skipped); the first
    line of another shape ends it, so output printed after the summary is not read as part of it.
    A key given twice keeps its first value.
    """
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "---"]
    if not starts:
        return None
    out = KVSummary()
    for line in lines[starts[-1] + 1:]:
        if not line.strip():
            continue
        m = _LINE.match(line.strip())
        if m is None or len(out.numbers) + len(out.texts) + len(out.rejected) >= MAX_KEYS:
            break
        key, raw = m.group(1), m.group(2)
        if key in out.numbers or key in out.texts or key in out.rejected:
            continue
        value = parse_value(raw)
        if value is None:
            out.rejected[key] = raw.strip()[:40] or "(empty)"
        elif isinstance(value, float):
            out.numbers[key] = value
        else:
            out.texts[key] = value
    return out


def read_tail(path: Path, max_bytes: int = MAX_TAIL_BYTES) -> str:
    """The last `max_bytes` of a regular file as text; a link, a folder or a FIFO is refused (OSError)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        start = max(info.st_size - max_bytes, 0)
        os.lseek(fd, start, os.SEEK_SET)
        data = os.read(fd, max_bytes)
    finally:
        os.close(fd)
    text = data.decode("utf-8", errors="replace")
    return text.split("\n", 1)[-1] if start > 0 else text  # a line cut by the window is not a line


def last_lines(text: str, n: int = 5, width: int = 160) -> str:
    """The last `n` non-empty lines, joined by ' | ' and each cut to `width`: a crash's reason."""
    tail = [ln.strip()[:width] for ln in text.splitlines() if ln.strip()][-n:]
    return " | ".join(tail)


def summary_from_log(path: Path, objectives: list[str]) -> tuple[dict[str, float | str], str]:
    """(summary, '') when the log's `---` block has every objective as a finite number, else ({}, why not).

    The why names the objective that is missing or not a number and quotes the log's last lines.
    """
    try:
        text = read_tail(path)
    except OSError as exc:
        return {}, f"{path.name}: cannot be read ({exc.strerror or exc})"
    block = parse_kv_summary(text)
    tail = last_lines(text)
    ending = f"; its last lines: {tail}" if tail else f"; {path.name} is empty"
    if block is None:
        return {}, f"no '---' summary in {path.name}{ending}"
    for name in objectives:
        if name in block.rejected:
            return {}, f"{name} is not a finite number ({block.rejected[name]!r}) in {path.name}'s summary{ending}"
        if name in block.texts:
            return {}, f"{name} is not a number ({block.texts[name]!r}) in {path.name}'s summary{ending}"
        if name not in block.numbers:
            return {}, f"no {name!r} in {path.name}'s '---' summary{ending}"
    return {**block.numbers, **block.texts}, ""
