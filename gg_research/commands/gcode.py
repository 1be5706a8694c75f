"""Inspect or render a G-code file: per-layer heights, filament and path length (`info`), or one layer as a PNG (`render`)."""

from __future__ import annotations

import argparse
import math
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="gcode_command", metavar="{info,render}")
    sub.required = True

    info = sub.add_parser("info", help="per-layer table: z, filament extruded, path length, XY bounds",
                          description="Per layer: index, z, filament extruded (mm of E), extruding path "
                          "length (mm) and XY bounds; a table with totals, or JSON.")
    info.add_argument("file", metavar="FILE", help="G-code file (PrusaSlicer, Cura, Bambu/Orca, ...)")
    info.add_argument("--json", action="store_true",
                      help="print a JSON list of {index, z, extruded_e, path_length, bounds} instead of a table")

    render = sub.add_parser("render", help="render one layer's toolpath to a PNG",
                            description="Render one layer's extruding toolpath (255 where material is laid) "
                            "to a square PNG framed on that layer.")
    render.add_argument("file", metavar="FILE", help="G-code file")
    render.add_argument("--layer", type=int, required=True, metavar="N",
                        help="layer index, 0-based in print order (see `gcode info`)")
    render.add_argument("--out", required=True, metavar="PNG", help="where to write the PNG")
    render.add_argument("--size", type=_positive_int, default=512, metavar="PX",
                        help="image side in pixels (default: 512)")
    render.add_argument("--bead-width", type=_positive_float, default=0.45, metavar="MM",
                        help="extruded bead width in mm (default: 0.45)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= 16384:
        raise argparse.ArgumentTypeError(f"must be between 1 and 16384, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    if args.gcode_command == "info":
        return _info(args)
    return _render(args)


def _info(args: argparse.Namespace) -> int:
    from gg_research.commands.jsonout import dumps
    from gg_research.ggnet.gcode import parse_gcode

    program = parse_gcode(args.file)
    rows = [
        {
            "index": layer.index,
            "z": layer.z,  # NaN where a headerless fragment never states it: null in JSON, "?" below
            "extruded_e": layer.extruded_e,
            "path_length": layer.path_length,
            "bounds": list(layer.bounds),
        }
        for layer in program.layers
    ]
    if args.json:
        sys.stdout.write(dumps(rows) + "\n")
        return 0

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{program.source}: {len(rows)} layers", title_justify="left")
    for name in ("layer", "z (mm)", "filament (mm E)", "path (mm)", "xmin", "ymin", "xmax", "ymax"):
        table.add_column(name, justify="right")
    for r in rows:
        z = "?" if not math.isfinite(r["z"]) else f"{r['z']:.3f}"
        table.add_row(str(r["index"]), z, f"{r['extruded_e']:.3f}", f"{r['path_length']:.1f}",
                      *(f"{v:.2f}" for v in r["bounds"]))
    xs = [b for r in rows for b in (r["bounds"][0], r["bounds"][2])]
    ys = [b for r in rows for b in (r["bounds"][1], r["bounds"][3])]
    table.add_section()
    table.add_row("total", "", f"{sum(r['extruded_e'] for r in rows):.3f}", f"{sum(r['path_length'] for r in rows):.1f}",
                  f"{min(xs):.2f}", f"{min(ys):.2f}", f"{max(xs):.2f}", f"{max(ys):.2f}")
    Console(width=max(100, Console().width)).print(table)
    return 0


def _render(args: argparse.Namespace) -> int:
    from pathlib import Path

    from PIL import Image

    from gg_research.ggnet.gcode import GCodeError, parse_gcode
    from gg_research.ggnet.render import render_layer

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise GCodeError(f"{out}: the output must be a .png file")
    if not out.parent.is_dir():
        raise GCodeError(f"{out}: folder {out.parent} does not exist")
    program = parse_gcode(args.file)
    layer = program.layer(args.layer)
    result = render_layer(layer, args.size, bead_width_mm=args.bead_width)
    # Write beside the target and rename, so a failed write never leaves half a PNG.
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        Image.fromarray(result.image).save(tmp, format="PNG")
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GCodeError(f"{out}: cannot write PNG ({exc.strerror or exc})") from None
    z = "unknown z" if not math.isfinite(layer.z) else f"z {layer.z:g} mm"
    print(f"wrote {out} (layer {layer.index} of {len(program.layers)}, {z}, {args.size}x{args.size} px)")
    return 0
