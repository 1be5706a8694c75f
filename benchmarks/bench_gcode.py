"""G-code speed: parse the 75,000-line Benchy and render one of its layers.

Target: parse + render one layer of a 75,000-line file in under 1 s. Prints
`key: value` lines (medians of a few runs). Usage: python benchmarks/bench_gcode.py [FILE] [--layer N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1] / "../shared/fixtures/gcode/benchy_prusaslicer_2.3.3.gcode"


def main() -> int:
    from gg_research.ggnet.gcode import parse_gcode
    from gg_research.ggnet.render import render_layer

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", nargs="?", default=str(DEFAULT.resolve()))
    parser.add_argument("--layer", type=int, default=None, help="layer to render (default: the one with most segments)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    path = Path(args.file)
    parse_s, render_s, total_s = [], [], []
    program = parse_gcode(path)
    index = args.layer if args.layer is not None else max(program.layers, key=lambda layer: len(layer.segments)).index
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        program = parse_gcode(path)
        t1 = time.perf_counter()
        render_layer(program.layer(index), args.size)
        t2 = time.perf_counter()
        parse_s.append(t1 - t0)
        render_s.append(t2 - t1)
        total_s.append(t2 - t0)
    layer = program.layer(index)
    print(f"file: {path.name}")
    print(f"lines: {len(path.read_text(errors='replace').splitlines())}")
    print(f"layers: {len(program.layers)}")
    print(f"layer: {index}")
    print(f"layer_segments: {len(layer.segments)}")
    print(f"size_px: {args.size}")
    print(f"parse_seconds: {statistics.median(parse_s):.3f}")
    print(f"render_seconds: {statistics.median(render_s):.3f}")
    print(f"parse_render_seconds: {statistics.median(total_s):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
