"""A run's training curves read back, and the one-line reading of a curve that the prompt, the
offline proposer and the report share.

The harness writes `curves.json` in each run folder (columns `step`, `images`, `seconds` and one
list per scalar under `series`; a non-finite value as the word "nan", "inf" or "-inf"). Its values
came from the run: shown and read, never used to score or keep.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gg_research.workspace_map import CURVES_FILE
from gg_research.results.record import Experiment

MAX_FILE_BYTES = 4 << 20
MIN_POINTS = 5  # fewer points than this are shown, not read
IMPROVING = -0.01  # still improving: the loss fell more than 1 % of its level per tenth of the run at the end
TAIL = 0.2  # the final slope is fitted over the last fifth of the run
_WORDS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_NOT_A_LOSS = ("lr", "learning_rate", "images", "step")


@dataclass(frozen=True)
class Curve:
    step: list[int]
    seconds: list[float]
    images: list[int | None]
    series: dict[str, list[float | None]]
    seen: int = 0

    def primary(self) -> str | None:
        """The series a reading is about: `loss` when the run reports one, else its first other loss-like series."""
        if "loss" in self.series:
            return "loss"
        return next((n for n in self.series if n.lower() not in _NOT_A_LOSS), None)

    def shares(self) -> list[float]:
        """Each point's place in the run, 0 to 1: by images seen when every point has a count that
        grows, else by step, else by the parent's clock. (Arrival times come in bursts when the
        parent reads several lines at once, so they place points worst.)"""
        for series in (self.images, self.step, self.seconds):
            xs = [x for x in series if x is not None]
            if len(xs) == len(series) and all(b >= a for a, b in zip(xs, xs[1:])) and xs[-1] > xs[0]:
                return [(x - xs[0]) / (xs[-1] - xs[0]) for x in xs]
        return [i / max(len(self.step) - 1, 1) for i in range(len(self.step))]

    def to_json(self) -> dict[str, Any]:
        """The columns again, strict JSON (non-finite values as words), for report.json and exporters."""
        return {"step": self.step, "seconds": self.seconds, "images": self.images,
                "series": {n: [_word(v) for v in vals] for n, vals in self.series.items()}}


def _word(v: float | None) -> float | str | None:
    if v is None or math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def _short(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if math.isfinite(v) else str(_word(v))


def _value(raw: Any) -> float | None:
    if isinstance(raw, str):
        return _WORDS.get(raw)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    return None


def load_curve(path: Path) -> Curve | None:
    """A curves.json, or None when there is none or it is not one. The parent wrote it, by rename, in a
    folder the run never saw; a link or an oversized file there is someone else's, and not read."""
    try:
        if path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    steps, seconds, images, series = data.get("step"), data.get("seconds"), data.get("images"), data.get("series")
    if not (isinstance(steps, list) and isinstance(seconds, list) and isinstance(series, dict)) or not steps:
        return None
    n = len(steps)
    if len(seconds) != n or not all(isinstance(s, int) for s in steps):
        return None
    images = images if isinstance(images, list) and len(images) == n else [None] * n
    cols = {str(k): [_value(v) for v in vals] for k, vals in series.items() if isinstance(vals, list) and len(vals) == n}
    return Curve(list(steps), [float(_value(s) or 0.0) for s in seconds],
                 [i if isinstance(i, int) else None for i in images], cols, int(data.get("points_seen", n) or n))


def experiment_curve(workspace: Path, exp: Experiment) -> Curve | None:
    """The curve of an experiment's first seed that left one (an ok seed first: a crashed seed's curve
    still says where it broke when no seed trained)."""
    seeds = sorted(exp.seeds, key=lambda s: not s.ok)
    for seed in seeds:
        if seed.run_dir:
            curve = load_curve(Path(workspace) / seed.run_dir / CURVES_FILE)
            if curve is not None:
                return curve
    return None


@dataclass(frozen=True)
class Reading:
    """What a curve did, in one of a few words, and the line that says it.

    kind: "nan" (a non-finite value at `step`), "diverged" (rose well above its best at `step`),
    "improving" (still falling at the end: budget-bound), "plateau" (90 % of its fall done by `at`
    of the run), "flat" (never fell), "short" (too few points to read).
    """

    name: str
    kind: str
    first: float
    last: float
    slope: float | None = None  # the change per tenth of the run at its end, relative to its level
    step: int | None = None
    at: float | None = None

    @property
    def budget_bound(self) -> bool:
        return self.kind == "improving"

    @property
    def text(self) -> str:
        slope = f" (final slope {round(self.slope, 3) or 0.0:+.1%} per tenth of the run)" if self.slope is not None else ""
        span = f"{self.name} {self.first:.3g} → {self.last:.3g}"
        if self.kind == "nan":
            return f"{self.name} {'NaN' if math.isnan(self.last) else 'infinite'} at step {self.step}"
        if self.kind == "diverged":
            return f"{self.name} diverged at step {self.step} ({self.first:.3g} → {self.last:.3g})"
        if self.kind == "improving":
            return f"{span}, still improving at the end{slope}"
        if self.kind == "plateau":
            return f"{span}, plateaued at {self.at:.0%} of the run{slope}"
        if self.kind == "flat":
            return f"{span}, never improved{slope}"
        return f"{span} (too few points to read)"


def _smooth(ys: list[float]) -> list[float]:
    """A centred running median over a tenth of the points: one noisy batch does not move a reading."""
    half = max(1, len(ys) // 20)
    return [statistics.median(ys[max(0, i - half): i + half + 1]) for i in range(len(ys))]


def _tail_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope (per unit of x) over the last TAIL of x, at least three points."""
    start = next((i for i, x in enumerate(xs) if x >= 1.0 - TAIL), len(xs))
    start = min(start, len(xs) - 3)
    tx, ty = xs[start:], ys[start:]
    mx, my = statistics.fmean(tx), statistics.fmean(ty)
    var = sum((x - mx) ** 2 for x in tx)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(tx, ty)) / var


def read_curve(curve: Curve, name: str | None = None) -> Reading | None:
    """The reading of one series (lower is better: a loss), by default the curve's primary one; None
    when the curve has no such series."""
    name = name or curve.primary()
    if name is None or name not in curve.series:
        return None
    shares = curve.shares()
    pts = [(shares[i], v, curve.step[i]) for i, v in enumerate(curve.series[name]) if v is not None]
    if not pts:
        return None
    for _, v, step in pts:
        if not math.isfinite(v):
            return Reading(name, "nan", pts[0][1], v, step=step)
    ys = [v for _, v, _ in pts]
    if len(pts) < MIN_POINTS:
        return Reading(name, "short", ys[0], ys[-1])
    x0, x1 = pts[0][0], pts[-1][0]
    xs = [(x - x0) / (x1 - x0) if x1 > x0 else i / (len(pts) - 1) for i, (x, _, _) in enumerate(pts)]
    s = _smooth(ys)
    level = max(abs(s[-1]), 1e-12)
    slope = _tail_slope(xs, s) * 0.1 / level
    best = s[0]
    for i, v in enumerate(s):
        best = min(best, v)
        if v - best > max(0.5 * (s[0] - best), 0.25 * abs(best), 1e-12):
            return Reading(name, "diverged", ys[0], ys[-1], slope, step=pts[i][2])
    drop = s[0] - s[-1]
    if slope < IMPROVING:
        return Reading(name, "improving", ys[0], ys[-1], slope)
    if drop <= 0.02 * max(abs(s[0]), 1e-12):
        return Reading(name, "flat", ys[0], ys[-1], slope)
    at = next(x for x, v in zip(xs, s) if v - s[-1] <= 0.1 * drop)
    return Reading(name, "plateau", ys[0], ys[-1], slope, at=at)


def experiment_reading(workspace: Path, exp: Experiment) -> Reading | None:
    """The reading of an experiment's curve (experiment_curve), None when it left none."""
    curve = experiment_curve(workspace, exp)
    return read_curve(curve) if curve is not None else None


def budget_bound(reading: Reading | None, parent: Reading | None) -> bool:
    """Whether a run was cut short by the budget rather than beaten: still improving at the end, and
    falling at least twice as steeply as its parent did at its end (when the parent was itself still
    improving, both were budget-bound and their final numbers compare)."""
    if reading is None or not reading.budget_bound:
        return False
    if parent is None or not parent.budget_bound or parent.slope is None or reading.slope is None:
        return True
    return reading.slope < 2 * parent.slope


def curve_text(curve: Curve, label: str, name: str | None = None, max_points: int = 60) -> str:
    """A series in full as text for a proposer (step, seconds by the parent's clock, value), thinned
    evenly to `max_points`; the other series' names are listed so it can ask for them."""
    name = name or curve.primary()
    others = ", ".join(n for n in curve.series if n != name)
    if name is None or name not in curve.series:
        return f"{label} reported no series {name!r}; it has: {', '.join(curve.series) or 'none'}"
    n = len(curve.step)
    picks = sorted({round(i * (n - 1) / max(max_points - 1, 1)) for i in range(min(n, max_points))})
    rows = [f"{curve.step[i]} {curve.seconds[i]:.1f}s {_short(curve.series[name][i])}" for i in picks]
    reading = read_curve(curve, name)
    head = f"{label} {name}: {len(picks)} of {curve.seen} points reported (step, seconds since start, value)"
    tail = [f"reading: {reading.text}"] if reading is not None else []
    return "\n".join([head, *rows, *tail, f"other series: {others or 'none'}"])
