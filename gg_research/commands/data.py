"""Generate the built-in synthetic dataset (data synth), check a dataset folder before training on it (data check), or look at it (data sheet)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    sub.required = True

    synth = sub.add_parser(
        "synth",
        help="generate the synthetic G-code dataset (images, masks, G-code, manifest)",
        description="Generate synthetic parts as G-code, their simulated camera images with a known "
        "misalignment and planted defects, and the manifest (train/val/test 70/20/10). "
        "The same seed gives the same bytes.",
    )
    synth.add_argument("--out", required=True, metavar="DIR", help="new (or empty) folder to write the dataset into")
    synth.add_argument("--n", type=_int_at_least(1), default=400, metavar="N", help="number of samples (default: 400)")
    synth.add_argument("--size", type=_int_at_least(32), default=128, metavar="PX", help="image side in pixels (default: 128)")
    synth.add_argument("--seed", type=int, default=0, metavar="K", help="generator seed (default: 0)")
    synth.add_argument(
        "--preset", default="easy", metavar="NAME",
        help="camera: easy (flat colours, high-contrast defects), realistic (a photo of the top layer: bead texture, "
        "glare, blur, noise, JPEG, nozzle, low-contrast defects), hard (realistic, wider misalignment, lower contrast) "
        "or dimensional (realistic's camera; most defects are edges printed a bead or two out of place, holes closing, "
        "voids: only the G-code, aligned to within a bead, tells them from the design) (default: easy)",
    )

    check = sub.add_parser(
        "check",
        help="validate a dataset folder: every manifest line and every file it names",
        description="Validate a dataset folder (manifest.jsonl, images/, masks/, gcode/ or renders/): "
        "print the samples per split and the share with defects, or the first problem found. Refused: "
        "files (or symlinks) leading outside the folder, masks other than 0/255 or 0/1, images over "
        "64 Mpx, G-code the parser refuses, and a dataset without train and val samples.",
    )
    check.add_argument("dir", metavar="DIR", help="dataset folder holding manifest.jsonl")
    check.add_argument("--bead-width", type=float, default=0.45, metavar="MM", help="extrusion width for G-code checks (default: 0.45)")

    sheet = sub.add_parser(
        "sheet",
        help="contact sheet of a dataset: images, their defect masks and the warped G-code render",
        description="Write a PNG with one row per sample: the camera image, the image with its defect mask "
        "in red, and the image with the G-code render warped by the ground-truth transform in green "
        "(where the manifest has one), so realism and labels can be judged by eye.",
    )
    sheet.add_argument("dir", metavar="DIR", help="dataset folder holding manifest.jsonl")
    sheet.add_argument("--out", required=True, metavar="PNG", help="PNG file to write")
    sheet.add_argument("--n", type=_int_at_least(1), default=8, metavar="N", help="samples to show, the first N of the manifest (default: 8)")
    sheet.add_argument("--tile", type=_int_at_least(32), default=192, metavar="PX", help="side of each picture in pixels (default: 192)")
    sheet.add_argument("--bead-width", type=float, default=0.45, metavar="MM", help="extrusion width for the render (default: 0.45)")


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def run(args: argparse.Namespace) -> int:
    if args.data_command == "synth":
        return _synth(args)
    if args.data_command == "sheet":
        return _sheet(args)
    return _check(args)


def _synth(args: argparse.Namespace) -> int:
    from gg_research.errors import UserError
    from gg_research.ggnet.synth import BEAD_WIDTH_MM, generate
    from gg_research.ggnet.synth_presets import PRESETS

    if args.preset not in PRESETS:
        raise UserError(f"--preset: unknown preset {args.preset!r} (one of {', '.join(PRESETS)})")
    out = Path(args.out)
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("synth", total=args.n)
            generate(out, args.n, args.size, args.seed, preset=args.preset,
                     progress=lambda done, total: bar.update(task, completed=done))
    else:
        generate(out, args.n, args.size, args.seed, preset=args.preset)
    print(f"wrote {out}")
    _print_summary(out, BEAD_WIDTH_MM)
    return 0


def _sheet(args: argparse.Namespace) -> int:
    from gg_research.errors import UserError
    from gg_research.ggnet.sheet import contact_sheet

    if not (args.bead_width > 0 and math.isfinite(args.bead_width)):
        raise UserError(f"--bead-width must be positive, got {args.bead_width}")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out}: the contact sheet is a PNG; name the file *.png")
    shown = contact_sheet(Path(args.dir), out, n=args.n, tile=args.tile, bead_width_mm=args.bead_width)
    print(f"wrote {out} ({shown} samples)")
    return 0


def _check(args: argparse.Namespace) -> int:
    from gg_research.errors import UserError

    if not (args.bead_width > 0 and math.isfinite(args.bead_width)):
        raise UserError(f"--bead-width must be positive, got {args.bead_width}")
    root = Path(args.dir)
    _print_summary(root, args.bead_width, require_splits=True)
    print(f"{root}: ok")
    return 0


def _print_summary(root: Path, bead_width_mm: float, *, require_splits: bool = False) -> None:
    from gg_research.ggnet.dataset_guards import check_splits
    from gg_research.ggnet.manifest import MANIFEST, SPLITS
    from gg_research.ggnet.sample_files import mask_has_defect, validate_dataset

    samples = validate_dataset(root, bead_width_mm=bead_width_mm)
    if require_splits:
        check_splits(root / MANIFEST, (s.split for s in samples))
    defective = {s.id: mask_has_defect(s.mask) for s in samples}
    for split in SPLITS:
        chosen = [s for s in samples if s.split == split]
        with_defect = sum(defective[s.id] for s in chosen)
        share = f"{with_defect / len(chosen):.0%}" if chosen else "-"
        print(f"{split}: {len(chosen)} samples, {with_defect} with defects ({share})")
    print(f"total: {len(samples)} samples, defect share {sum(defective.values()) / len(samples):.0%}")
