"""Training curves: the scalars a run reports as it trains, carried on its stdout and kept by the parent.

The line format (what `ctx.log` prints, and what a `[run] command` may print itself), one point a line:

    [curve] step 120 images 3840 loss=0.4312 align=0.112 seg=0.3191 lr=0.0029

`images` is optional; each scalar is `name=number` (`nan`, `inf` and `-inf` allowed, so a curve can
show where it broke). The child prints a point at most every few hundredths of its budget
(`CurveWriter`); the parent (`CurveRecorder`, fed by the sink that reads the child's output) parses
each line strictly, stamps it with its own clock, keeps at most MAX_POINTS points thinned evenly over
the run, and writes them to the run folder (`save`). Curve lines are not copied to run.log.

Everything here came from the run: it is shown to the researcher and the proposer, never used to
score, keep or budget anything.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gg_research.harness.summary import write_json_atomic

MARK = "[curve]"
MAX_POINTS = 500  # per run; past it the kept points are thinned to every other one
MAX_SERIES = 16  # scalar names per run; later names are ignored
MAX_LINE = 1024  # bytes; a longer curve line is ignored
POINTS_PER_RUN = 400  # what the child aims to print over its budget (the parent thins the rest)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,39}")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|nan|inf)")
_MAX_COUNT = 10**15


@dataclass(frozen=True)
class CurvePoint:
    step: int
    images: int | None
    values: dict[str, float]


def _number(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


def format_curve(step: int, images: int | None, values: dict[str, float]) -> str:
    images_part = f" images {int(images)}" if images is not None else ""
    scalars = " ".join(f"{k}={_number(v)}" for k, v in values.items())
    return f"{MARK} step {int(step)}{images_part} {scalars}"


def parse_curve(line: str) -> CurvePoint | None:
    """The point of a curve line, else None: any malformed part refuses the whole line."""
    if len(line) > MAX_LINE or not line.startswith(MARK):
        return None
    words = line[len(MARK):].split()
    if len(words) < 3 or words[0] != "step" or not words[1].isdigit() or len(words[1]) > 15:
        return None
    step, images, rest = int(words[1]), None, words[2:]
    if rest[0] == "images":
        if len(rest) < 2 or not rest[1].isdigit() or len(rest[1]) > 15:
            return None
        images, rest = int(rest[1]), rest[2:]
    values: dict[str, float] = {}
    for word in rest:
        name, sep, text = word.partition("=")
        if not sep or not _NAME.fullmatch(name) or not _NUMBER.fullmatch(text) or name in values:
            return None
        values[name] = float(text)
    if not values or len(values) > MAX_SERIES:
        return None
    return CurvePoint(step, images, values)


class CurveWriter:
    """The child's side: prints a point at most every budget / POINTS_PER_RUN seconds, and always
    the first one, a non-finite one, and (on `flush`) the last one logged."""

    def __init__(self, stream: IO[str], budget_s: float) -> None:
        self._stream = stream
        self._interval = min(max(budget_s / POINTS_PER_RUN, 0.02), 5.0)
        self._last = -math.inf
        self._pending: tuple[int, int | None, dict[str, float]] | None = None

    def point(self, step: int, images: int | None, values: dict[str, float]) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval or not all(math.isfinite(v) for v in values.values()):
            self._last, self._pending = now, None
            print(format_curve(step, images, values), file=self._stream, flush=True)
        else:
            self._pending = (step, images, values)  # formatted only if it turns out to be the last

    def flush(self) -> None:
        if self._pending is not None:
            print(format_curve(*self._pending), file=self._stream, flush=True)
            self._pending = None


@dataclass
class CurveRecorder:
    """The parent's side: each curve line the child printed, parsed, stamped, bounded and thinned.

    Thinning keeps every `stride`-th point by arrival, doubling the stride each time MAX_POINTS
    are held, so the kept points stay evenly spread however long the run; the latest point is
    kept apart so the end of the curve is never lost.
    """

    max_points: int = MAX_POINTS
    seen: int = 0
    stride: int = 1
    _points: list[tuple[float, CurvePoint]] = field(default_factory=list)
    _last: tuple[float, CurvePoint] | None = None
    _last_kept: bool = False
    _names: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def feed(self, line: str) -> bool:
        """True when `line` is a curve line (kept or not), so the caller keeps it out of the log."""
        if not line.startswith(MARK):
            return False
        point = parse_curve(line.rstrip("\r\n"))
        if point is not None:
            self.add(point, time.monotonic())
        return True

    def add(self, point: CurvePoint, at: float) -> None:
        with self._lock:
            for name in point.values:
                if name not in self._names and len(self._names) < MAX_SERIES:
                    self._names.append(name)
            entry = (at, point)
            self._last, self._last_kept = entry, self.seen % self.stride == 0
            if self._last_kept:
                self._points.append(entry)
                if len(self._points) >= self.max_points:
                    self._points = self._points[::2]
                    self.stride *= 2
                    self._last_kept = self._points[-1] is entry
            self.seen += 1

    def points(self) -> list[tuple[float, CurvePoint]]:
        with self._lock:
            kept = list(self._points)
            if self._last is not None and not self._last_kept:
                kept.append(self._last)
            return kept

    def to_json(self, since: float) -> dict[str, Any]:
        """The curves as columns: one list per scalar, aligned with `step`, `images` and `seconds`
        (the parent's clock since `since`); a scalar missing at a point is null, a non-finite one
        the string "nan", "inf" or "-inf" (JSON has no such numbers)."""
        points = self.points()
        names = list(self._names)
        return {
            "format": 1,
            "points_seen": self.seen,
            "points_kept": len(points),
            "step": [p.step for _, p in points],
            "images": [p.images if p.images is not None and p.images <= _MAX_COUNT else None for _, p in points],
            "seconds": [round(max(at - since, 0.0), 3) for at, _ in points],
            "series": {name: [_json_value(p.values.get(name)) for _, p in points] for name in names},
        }


def _json_value(v: float | None) -> float | str | None:
    if v is None or math.isfinite(v):
        return v
    return _number(v)


def save(recorder: CurveRecorder, path: Path, since: float) -> None:
    """Write the run's curves (nothing when it printed none). A curve that cannot be written is
    lost, never the run: nothing decides on it."""
    if not recorder.seen:
        return
    try:
        write_json_atomic(path, recorder.to_json(since))
    except OSError:
        pass
