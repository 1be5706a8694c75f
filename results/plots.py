"""results/progress.png, and what both of the report's figures share (results/pareto_plot.py
draws pareto.png).

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so no display is needed
and a long-lived process (the loop) keeps no global figure state between reports. Axes of
minimised objectives are inverted, so "better" is always up and to the right.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gg_research.results.analysis import Analysis, Row

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gg_research.results.curves import Curve

KEEP_COLOR = "#1f5fbf"
DISCARD_COLOR = "#9a9a9a"
CRASH_COLOR = "#c62828"
FRONT_COLOR = "#e07b00"
BASELINE_COLOR = "#111111"
MAX_LISTED_IDS = 6


def figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def axis_label(an: Analysis, i: int) -> str:
    o = an.objectives[i]
    arrow = "higher is better" if o.direction == "maximize" else "lower is better"
    return f"{o.display()} ({arrow})"


def plot_progress(an: Analysis, path: Path) -> Path:
    """Hypervolume and each objective's running best, against experiment number and clock time."""
    rows = 1 + len(an.objectives)
    fig = figure(11.0, 2.4 * rows + 0.6)
    axes = fig.subplots(rows, 2, squeeze=False, sharex="col")
    t0 = an.started
    hours = [((p.when - t0).total_seconds() / 3600.0) if (p.when and t0) else None for p in an.progress]
    numbers = [p.number for p in an.progress]
    crashed = [p for p, r in zip(an.progress, _rows_in_order(an)) if r.rank is None]

    for col, xs, xlabel in ((0, numbers, "experiment number"), (1, hours, "hours since the first experiment")):
        for row in range(rows):
            ax = axes[row][col]
            ax.grid(True, alpha=0.3)
            if col == 1 and all(h is None for h in hours):
                ax.text(0.5, 0.5, "no times recorded", ha="center", va="center", transform=ax.transAxes, color="#777777")
                continue
            known = [x for x in xs if x is not None]
            if known:
                # Set explicitly: when every run crashed only the axis-anchored crosses are drawn,
                # and those do not widen the automatic limits.
                margin = max((max(known) - min(known)) * 0.04, 0.5 if col == 0 else 0.02)
                ax.set_xlim(min(known) - margin, max(known) + margin)
            if row == 0:
                values = [p.hypervolume for p in an.progress]
                _progress_series(ax, xs, values, None)
                ax.set_ylabel("hypervolume")
                if all(v is None for v in values):
                    ax.text(0.5, 0.5, "no measured run yet", ha="center", va="center", transform=ax.transAxes, color="#777777")
            else:
                o = an.objectives[row - 1]
                _progress_series(ax, xs, [p.running_best[o.name] for p in an.progress],
                                 [(p.value[o.name], an.row(p.id).exp.status) for p in an.progress])
                ax.set_ylabel(f"best {o.display()}")
                if o.direction == "minimize":
                    ax.invert_yaxis()
            # Crashes as ticks on the axis, so a run of failures is visible in time.
            cx = [xs[p.number - 1] for p in crashed if xs[p.number - 1] is not None]
            if cx:
                ax.scatter(cx, [0.03] * len(cx), transform=ax.get_xaxis_transform(), marker="x", color=CRASH_COLOR, s=25, zorder=5,
                           label="crash / invalid / unfinished")
            if row == rows - 1:
                ax.set_xlabel(xlabel)
            if col == 0:
                from matplotlib.ticker import MaxNLocator

                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_title("by experiment", fontsize=10)
    axes[0][1].set_title("by clock time", fontsize=10)
    handles, labels = axes[-1][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9, frameon=False)
    fig.savefig(path, format="png")
    return Path(path)


def _rows_in_order(an: Analysis) -> list[Row]:
    return [an.row(e.id) for e in an.experiments]


def _progress_series(ax: Axes, xs: Sequence[float | None], best: Sequence[float | None],
                     points: Sequence[tuple[float | None, str]] | None) -> None:
    pairs = [(x, b) for x, b in zip(xs, best) if x is not None and b is not None]
    if pairs:
        ax.step([p[0] for p in pairs], [p[1] for p in pairs], where="post", color=FRONT_COLOR, lw=2, label="running best of kept runs")
    if points:
        styles: tuple[tuple[str, dict[str, Any]], ...] = (
            ("keep", dict(color=KEEP_COLOR, s=16)), ("baseline", dict(color=BASELINE_COLOR, s=40, marker="*")),
            ("discard", dict(facecolors="none", edgecolors=DISCARD_COLOR, s=16)))
        for status, style in styles:
            sel = [(x, v) for x, (v, st) in zip(xs, points) if x is not None and v is not None and st == status]
            if sel:
                ax.scatter([s[0] for s in sel], [s[1] for s in sel], zorder=4, label=status, **style)


MAX_CURVE_PANELS = 12


def _curve_xy(curve: Curve, name: str) -> tuple[list[float], list[float]]:
    """A series against the share of the run (Curve.shares), finite points only."""
    pts = [(x, v) for x, v in zip(curve.shares(), curve.series.get(name, []))
           if v is not None and v == v and abs(v) != float("inf")]
    return [x for x, _ in pts], [y for _, y in pts]


def plot_curves(an: Analysis, path: Path) -> Path:
    """Small multiples: per front member, its training loss against its parent's, over the share of the run."""
    members = list(an.curve_parents)[:MAX_CURVE_PANELS]
    cols = min(3, max(len(members), 1))
    rows = max(1, -(-len(members) // cols))
    fig = figure(3.6 * cols + 0.4, 2.6 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(ax for row in axes for ax in row):
        if i >= len(members):
            ax.set_visible(False)
            continue
        member = members[i]
        parent = an.curve_parents[member]
        mine, theirs = an.curves.get(member), an.curves.get(parent or "")
        either = mine or theirs
        name = either.primary() if either else None
        ax.set_title(f"{member}" + (f" vs {parent}" if parent else ""), fontsize=9)
        ax.grid(True, alpha=0.3)
        if name is None:
            ax.text(0.5, 0.5, "no curve recorded", ha="center", va="center", transform=ax.transAxes, color="#777777")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        ys_all: list[float] = []
        for curve, color, label, style in ((theirs, DISCARD_COLOR, parent, "--"), (mine, FRONT_COLOR, member, "-")):
            if curve is None or name not in curve.series:
                continue
            xs, ys = _curve_xy(curve, name)
            ys_all += ys
            ax.plot(xs, ys, style, color=color, lw=1.4, label=label)
            if xs and len(xs) < sum(v is not None for v in curve.series[name]):  # it broke: mark where
                ax.plot([1.0], [ys[-1]], "x", color=CRASH_COLOR, ms=8, mew=2)
        if ys_all and min(ys_all) > 0 and max(ys_all) / min(ys_all) > 20:
            ax.set_yscale("log")
        ax.set_xlabel("share of the run", fontsize=8)
        ax.set_ylabel(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper right")
    fig.savefig(path, format="png")
    return path
