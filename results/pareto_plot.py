"""results/pareto.png: every experiment as a point, the front as a staircase, the hypervolume shaded.

Axes of minimised objectives are inverted, so "better" is always up and to the right; runs with
no trusted value sit in a band on the worse side of the axes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gg_research.results.analysis import Analysis, Row
from gg_research.results.ledger import Status
from gg_research.results.pareto import sign
from gg_research.results.plots import (BASELINE_COLOR, CRASH_COLOR, DISCARD_COLOR, FRONT_COLOR, KEEP_COLOR,
                                       MAX_LISTED_IDS, axis_label, figure)

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _limits(values: list[float], direction: str) -> tuple[float, float, float]:
    """Axis limits (lo, hi) and the position of the 'no value' band on the worse side."""
    if values:
        lo, hi = min(values), max(values)
    else:
        lo, hi = 0.0, 1.0
    span = max(hi - lo, 0.02)
    pad = 0.08 * span
    # The better side gets room for the id labels drawn above and right of the points.
    if direction == "maximize":
        return lo - 3.0 * pad, hi + 1.5 * pad, lo - 2.0 * pad
    return lo - 1.5 * pad, hi + 3.0 * pad, hi + 2.0 * pad


def plot_pareto(an: Analysis, path: Path) -> Path:
    """Every experiment as a point, the front as a staircase, the baseline marked."""
    fig = figure(8.0, 6.2)
    ax = fig.add_subplot()
    if len(an.objectives) == 1:
        _pareto_one_objective(an, ax)
    else:
        _pareto_two_objectives(an, ax)
    fig.savefig(path, format="png")
    return Path(path)


def _pareto_two_objectives(an: Analysis, ax: Axes) -> None:
    nx, ny = an.names[0], an.names[1]
    dx, dy = an.directions[0], an.directions[1]
    measured = [r for r in an.rows if r.rank is not None]
    xs_all = [r.exp.metrics[nx] for r in measured]
    ys_all = [r.exp.metrics[ny] for r in measured]
    if an.reference:
        xs_all.append(an.reference[nx])
        ys_all.append(an.reference[ny])
    x_lo, x_hi, x_edge = _limits(xs_all, dx)
    y_lo, y_hi, y_edge = _limits(ys_all, dy)

    _shade_hypervolume(an, ax)
    _front_staircase(an, ax)

    groups: tuple[tuple[str, Callable[[Row], bool], dict[str, Any]], ...] = (
        ("keep", lambda r: r.exp.status is Status.KEEP, dict(marker="o", color=KEEP_COLOR, s=46, zorder=4)),
        ("discard", lambda r: r.exp.status is Status.DISCARD, dict(marker="o", facecolors="none", edgecolors=DISCARD_COLOR, s=40, zorder=3)),
    )
    for label, keep_it, style in groups:
        pts = [r for r in measured if keep_it(r)]
        if pts:
            ax.scatter([r.exp.metrics[nx] for r in pts], [r.exp.metrics[ny] for r in pts], label=f"{label} ({len(pts)})", **style)

    baselines = [r for r in measured if r.exp.status is Status.BASELINE]
    if baselines:
        ax.scatter(
            [r.exp.metrics[nx] for r in baselines], [r.exp.metrics[ny] for r in baselines],
            marker="*", s=220, color=BASELINE_COLOR, zorder=6, label=f"baseline ({baselines[0].exp.id})",
        )
    if an.reference and an.reference_source != "baseline":
        ax.scatter([an.reference[nx]], [an.reference[ny]], marker="+", s=120, color=BASELINE_COLOR, zorder=6,
                   label=f"reference ({an.reference_source})")

    near = [r for r in measured if r.near_miss]
    if near:
        ax.scatter([r.exp.metrics[nx] for r in near], [r.exp.metrics[ny] for r in near], marker="D", s=70,
                   facecolors="none", edgecolors="#555555", linewidths=1.2, zorder=4, label=f"near miss ({len(near)})")
    for r in measured:
        if r.on_front or r.near_miss:
            ax.annotate(
                r.exp.id,
                (r.exp.metrics[nx], r.exp.metrics[ny]),
                xytext=(6, 6) if r.on_front else (6, -13), textcoords="offset points", fontsize=9 if r.on_front else 8,
                color=FRONT_COLOR if r.on_front else "#555555", fontweight="bold" if r.on_front else "normal",
                zorder=7,
            )

    x_step = (x_edge - x_lo) if dx == "maximize" else (x_edge - x_hi)
    y_step = (y_edge - y_lo) if dy == "maximize" else (y_edge - y_hi)
    _edge_points(an, ax, nx, ny, x_edge, y_edge, x_step, y_step)

    # The band on the worse side of each axis is where runs without that value are drawn.
    x_band = (x_lo, x_edge + (x_edge - x_lo)) if dx == "maximize" else (x_edge - (x_hi - x_edge), x_hi)
    y_band = (y_lo, y_edge + (y_edge - y_lo)) if dy == "maximize" else (y_edge - (y_hi - y_edge), y_hi)
    ax.axvspan(*x_band, color="#f3d6d6", alpha=0.5, zorder=0, lw=0)
    ax.axhspan(*y_band, color="#f3d6d6", alpha=0.5, zorder=0, lw=0)

    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    if dx == "minimize":
        ax.invert_xaxis()
    if dy == "minimize":
        ax.invert_yaxis()
    ax.set_xlabel(axis_label(an, 0))
    ax.set_ylabel(axis_label(an, 1))
    ax.grid(True, alpha=0.3)
    extra = f"; front over all {len(an.objectives)} objectives" if len(an.objectives) > 2 else ""
    title = f"{an.objectives[0].display()} vs {an.objectives[1].display()}: {len(an.experiments)} experiments, front of {len(an.front)}{extra}"
    if not measured:
        title = f"{len(an.experiments)} experiments, none with measured {an.objectives[0].display()} and {an.objectives[1].display()}"
    ax.set_title(title, fontsize=11)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)


def _gain(an: Analysis, values: list[float]) -> list[float]:
    return [v * sign(d) for v, d in zip(values, an.directions)]


def _front_points(an: Analysis) -> list[tuple[float, float]]:
    """Front members of the first two objectives in 'gain' coordinates, left to right."""
    nx, ny = an.names[0], an.names[1]
    pts: set[tuple[float, float]] = set()
    for i in an.front:
        gx, gy = _gain(an, [an.row(i).exp.metrics[nx], an.row(i).exp.metrics[ny]])
        pts.add((gx, gy))
    return sorted(pts, key=lambda p: (p[0], -p[1]))


def _from_gain(an: Analysis, gx: float, gy: float) -> tuple[float, float]:
    return gx * sign(an.directions[0]), gy * sign(an.directions[1])


def _front_staircase(an: Analysis, ax: Axes) -> None:
    if len(an.objectives) != 2 or not an.front:
        return
    pts = _front_points(an)
    verts: list[tuple[float, float]] = [pts[0]]
    for (x0, _y0), (x1, y1) in zip(pts, pts[1:]):
        verts += [(x0, y1), (x1, y1)]
    data = [_from_gain(an, x, y) for x, y in verts]
    ax.plot([p[0] for p in data], [p[1] for p in data], color=FRONT_COLOR, lw=2, zorder=5,
            label=f"Pareto front ({len(an.front)})")


def _shade_hypervolume(an: Analysis, ax: Axes) -> None:
    """The region the front dominates beyond the reference: its area is the hypervolume."""
    if len(an.objectives) != 2 or not an.front or not an.reference or not an.hypervolume:
        return
    rx, ry = _gain(an, [an.reference[an.names[0]], an.reference[an.names[1]]])
    pts = [p for p in _front_points(an) if p[0] > rx and p[1] > ry]
    if not pts:
        return
    verts = [(rx, ry), (rx, pts[0][1])]
    for i, (x, y) in enumerate(pts):
        verts.append((x, y))
        nxt = pts[i + 1][1] if i + 1 < len(pts) else ry
        verts.append((x, nxt))
    data = [_from_gain(an, x, y) for x, y in verts]
    ax.fill([p[0] for p in data], [p[1] for p in data], color=FRONT_COLOR, alpha=0.12, zorder=1, lw=0,
            label=f"hypervolume {an.hypervolume:.4g}")


def _edge_points(an: Analysis, ax: Axes, nx: str, ny: str, x_edge: float, y_edge: float, x_step: float, y_step: float) -> None:
    """Crashed, invalid and unfinished runs: drawn in the 'no value' band, never dropped.

    x_step and y_step point from the edge into the plot (they carry the axis direction).
    """
    unmeasured = [r for r in an.rows if r.rank is None]
    styles: dict[str, dict[str, Any]] = {
        "crash": dict(marker="x", color=CRASH_COLOR, s=60),
        "invalid": dict(marker="X", color="#8e24aa", s=60),
        "refused": dict(marker="X", color="#9e9e9e", s=50),  # never ran: its proposal failed a check
    }
    in_corner: list[str] = []
    for status in ("crash", "invalid", "refused", "other"):
        pts = [r for r in unmeasured if (r.exp.status == status if status != "other" else r.exp.status not in styles)]
        if not pts:
            continue
        style = styles.get(status, dict(marker="s", color="#ef6c00", s=34, facecolors="none"))
        label = {"crash": "crash", "invalid": "invalid", "refused": "refused", "other": "unfinished"}[status]
        xs, ys = [], []
        for r in pts:
            # Runs with no value at all share the corner; spread them a little so each shows.
            k = len(in_corner)
            spread_x, spread_y = (k % 4) * 0.22 * x_step, (k // 4) * 0.22 * y_step
            # An invalid run's numbers are not trusted, so it sits at the edge like a crash.
            trusted = r.exp.status not in ("invalid",)
            x = r.exp.metrics.get(nx) if trusted else None
            y = r.exp.metrics.get(ny) if trusted else None
            both_missing = x is None and y is None
            xs.append(x if x is not None else x_edge + (spread_x if both_missing else 0.0))
            ys.append(y if y is not None else y_edge + (spread_y if both_missing else 0.0))
            if x is None and y is None:
                in_corner.append(r.exp.id)
            else:
                ax.annotate(r.exp.id, (xs[-1], ys[-1]), xytext=(5, -10), textcoords="offset points", fontsize=8, color=style["color"])
        ax.scatter(xs, ys, label=f"{label} ({len(pts)}, at the edge)", zorder=6, **style)
    if in_corner:
        listed = ", ".join(in_corner[:MAX_LISTED_IDS]) + (f" +{len(in_corner) - MAX_LISTED_IDS}" if len(in_corner) > MAX_LISTED_IDS else "")
        ax.annotate(f"no metrics: {listed}", (x_edge, y_edge), xytext=(26, 0), textcoords="offset points",
                    fontsize=8, color=CRASH_COLOR, zorder=7, va="center")


def _pareto_one_objective(an: Analysis, ax: Axes) -> None:
    name = an.names[0]
    for r in an.rows:
        value = r.exp.metrics.get(name) if r.rank is not None else None
        if value is None:
            ax.axvline(an.experiments.index(r.exp) + 1, color=CRASH_COLOR, alpha=0.4, lw=1)
            continue
        number = an.experiments.index(r.exp) + 1
        color = {"keep": KEEP_COLOR, "baseline": BASELINE_COLOR}.get(r.exp.status, DISCARD_COLOR)
        ax.scatter([number], [value], color=color, marker="*" if r.exp.status is Status.BASELINE else "o", zorder=4)
        if r.on_front:
            ax.annotate(r.exp.id, (number, value), xytext=(5, 5), textcoords="offset points", fontsize=9, color=FRONT_COLOR)
    if an.objectives[0].direction == "minimize":
        ax.invert_yaxis()
    ax.set_xlabel("experiment number (red lines: no value)")
    ax.set_ylabel(axis_label(an, 0))
    ax.set_title(f"{an.objectives[0].display()}: {len(an.experiments)} experiments", fontsize=11)
    ax.grid(True, alpha=0.3)
