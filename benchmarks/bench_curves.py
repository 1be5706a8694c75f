"""What the training curves cost a run: time in the child and the parent, bytes on disk.

- child: ctx.log's cost per call with its curve points (the template's four scalars), against the
  same call on a context whose curve writer is a no-op;
- parent: parsing and keeping curve lines (CurveRecorder.feed), per line;
- bytes: the [curve] lines a run prints and the curves.json the parent writes, for a run of the
  template's pace over a 300 s budget, and for a hostile run printing far more than is kept;
- a real run: the template at 64 px on CPU under a time budget (--budget), its curves.json.

Prints `key: value` lines. Usage: python benchmarks/bench_curves.py [--calls 20000] [--budget 30]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from gg_research.harness.context import TrainContext  # noqa: E402
from gg_research.harness.curves import CurveRecorder, CurveWriter, format_curve  # noqa: E402


class _Silent(CurveWriter):
    def point(self, step, images, values) -> None:  # noqa: ANN001 - the base's signature
        return None


def _ctx(stream, budget_s: float, silent: bool) -> TrainContext:
    ctx = TrainContext(device=torch.device("cpu"), seed=0, image_size=64, train_dataset=[], budget_s=budget_s,
                       run_dir=Path("."), stream=stream, log_interval_s=1e9)
    if silent:
        ctx._curve = _Silent(stream, budget_s)
    ctx.start_clock()
    return ctx


def child_cost(calls: int, budget_s: float) -> tuple[float, float, int]:
    """(µs a ctx.log call with curves, µs without, points printed) over `calls` calls spread over
    the time they take (the writer prints by the clock, so a fast loop prints few points)."""
    loss = torch.tensor(0.5)
    out = []
    for silent in (False, True):
        stream = io.StringIO()
        ctx = _ctx(stream, budget_s, silent)
        t = time.perf_counter()
        for step in range(1, calls + 1):
            ctx.log(step, loss=loss, align=loss, seg=loss, lr=3e-3, n_images=4)
        out.append((time.perf_counter() - t) / calls * 1e6)
        if not silent:
            printed = stream.getvalue().count("[curve]")
    return out[0], out[1], printed


def print_cost(points: int) -> float:
    """µs to format and print one point to a file, flushed (what a printed point costs the child)."""
    import os

    with open(os.devnull, "w") as sink:
        writer = CurveWriter(sink, budget_s=0.0)  # an interval of 0.02 s: every call ...
        writer._interval = 0.0  # ... prints
        values = {"loss": 0.5, "align": 0.1, "seg": 0.4, "lr": 3e-3}
        t = time.perf_counter()
        for step in range(points):
            writer.point(step, 4 * step, values)
        return (time.perf_counter() - t) / points * 1e6


def parent_cost(lines: int) -> tuple[float, int, int]:
    """(µs per line fed, bytes of the lines, bytes of curves.json) for `lines` template-like points."""
    text = [format_curve(s, 4 * s, {"loss": 1.9 * math.exp(-s / 300) + 0.3, "align": 0.2 / (1 + s / 50),
                                    "seg": 1.6 * math.exp(-s / 400) + 0.25, "lr": 3e-3 * (1 - s / lines)}) + "\n"
            for s in range(1, lines + 1)]
    rec = CurveRecorder()
    t = time.perf_counter()
    for line in text:
        rec.feed(line)
    per_line = (time.perf_counter() - t) / lines * 1e6
    return per_line, sum(len(x) for x in text), len(json.dumps(rec.to_json(since=0.0), indent=2))


def real_run(budget_s: float) -> dict[str, float]:
    """A run of the template (its tiny settings, 64 px, CPU) under a time budget, as the tests make it."""
    from gg_research.workspace_map import CURVES_FILE
    from gg_research.harness.runner import run_experiment
    from tests.harness.standin import make_workspace, synthetic_dataset

    with tempfile.TemporaryDirectory() as tmp:
        ws = make_workspace(Path(tmp) / "ws", synthetic_dataset(Path(tmp) / "data"), budget_s=budget_s)
        res = run_experiment(ws, Path(tmp) / "run", hard_limit_s=900)
        path = Path(tmp) / "run" / CURVES_FILE
        data = json.loads(path.read_text()) if path.is_file() else {}
        return {"status_ok": float(res.status == "ok"), "steps": res.metrics.get("num_steps", 0.0),
                "training_seconds": res.metrics.get("training_seconds", 0.0), "points": float(data.get("points_kept", 0)),
                "bytes": float(path.stat().st_size if path.is_file() else 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--budget", type=float, default=0.0, help="also a real template run of this many seconds (0: none)")
    args = ap.parse_args()
    with_curves, without, printed = child_cost(args.calls, budget_s=300.0)
    print(f"child_log_call_us_with_curves: {with_curves:.2f}")
    print(f"child_log_call_us_without_curves: {without:.2f}")
    print(f"child_curve_points_printed_in_{args.calls}_calls: {printed}")
    print(f"child_point_print_us: {print_cost(20000):.2f}")
    per_line, line_bytes, json_bytes = parent_cost(400)
    print(f"parent_feed_us_per_line: {per_line:.2f}")
    print(f"run_300s_400_points_stdout_bytes: {line_bytes}")
    print(f"run_300s_400_points_curves_json_bytes: {json_bytes}")
    per_line, line_bytes, json_bytes = parent_cost(100_000)
    print(f"hostile_100000_points_stdout_bytes: {line_bytes}")
    print(f"hostile_100000_points_curves_json_bytes: {json_bytes}")
    print(f"hostile_100000_points_parent_seconds: {per_line * 100_000 / 1e6:.2f}")
    if args.budget:
        for key, value in real_run(args.budget).items():
            print(f"real_run_{key}: {value:g}")


if __name__ == "__main__":
    main()
