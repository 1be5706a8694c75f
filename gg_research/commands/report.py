"""The morning report: the Pareto front of the objectives, what worked and which passages it came from.

Writes results/report.html (self-contained), results/report.md, pareto.png and progress.png,
or prints the numbers as JSON with --format json. It reports the newest loop tag (the tag of the
latest experiment); --tag picks another, --all reports every tag together.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from gg_research.commands.args import positive
from gg_research.workspace_map import WorkspaceMap


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--tag", help="only the experiments of this loop tag (default: the newest tag)")
    which.add_argument("--all", action="store_true", help="every tag of the ledger together (fronts and baselines mixed)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="folder for the report files (default: <workspace>/results)")
    parser.add_argument(
        "--format",
        choices=("html", "md", "json"),
        help="html or md: write that file (and the plots) and print its path; json: print the numbers; "
        "default: write html and md",
    )
    parser.add_argument(
        "--watch",
        nargs="?",
        type=positive(float),
        const=5.0,
        metavar="SECONDS",
        help="re-render whenever the ledger changes, checking every SECONDS (default 5), until Ctrl-C",
    )


def run(args: argparse.Namespace) -> int:
    from gg_research.config import CONFIG_NAME, find_workspace, load_config

    workspace = find_workspace()
    config = load_config(workspace / CONFIG_NAME)
    if args.watch is not None and args.format == "json":
        from gg_research.errors import UserError

        raise UserError("--watch writes files; use it with --format html or md (or no --format)")
    if args.tag is None and not args.all:
        args.tag = _newest_tag(workspace)
    render = _renderer(workspace, config, args)
    if args.watch is None:
        render()
        return 0
    return _watch(workspace, render, args.watch)


def _newest_tag(workspace: Path) -> str | None:
    """The tag of the latest loop experiment when the ledger holds several loops (each with its own front and
    baseline), said on stderr; None (everything) for one loop, whose imported history stays in its report."""
    from gg_research.results.ledger import LedgerMissingError, read_workspace_ledger

    try:
        ledger = read_workspace_ledger(workspace)
    except LedgerMissingError:
        return None
    loops = [e for e in ledger.experiments if e.tag is not None and not e.imported]
    tags = list(dict.fromkeys(e.tag for e in loops))
    newest = loops[-1].tag if loops else None
    if len(tags) < 2:
        return None
    if newest is not None:
        others = ", ".join(t for t in tags if t != newest)
        print(f"reporting tag {newest}, the newest (also in the ledger: {others}; --tag TAG picks one, "
              "--all reports them together)", file=sys.stderr)
    return newest


def _renderer(workspace: Path, config, args: argparse.Namespace):
    from gg_research.results.report import build_analysis, report_json, write_files

    def render() -> None:
        an = build_analysis(workspace, config, args.tag)
        for warning in an.ledger.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if args.format == "json":
            try:
                print(report_json(an), flush=True)
            except BrokenPipeError:
                # `report --format json | head` closed the pipe early; that is not an error.
                sys.stdout = open(os.devnull, "w")
            return
        formats = (args.format,) if args.format else ("html", "md")
        out_dir = args.out.resolve() if args.out is not None else WorkspaceMap(workspace).results
        written = write_files(an, out_dir, formats)
        for path in written.values():
            print(path)
        if not an.experiments:
            print(f"no experiments in {an.ledger.path} yet; the report says so", file=sys.stderr)

    return render


def _watch(workspace: Path, render, interval: float) -> int:
    from gg_research.results.ledger import ledger_path

    path = ledger_path(workspace)
    last: tuple[int, int] | None = None
    try:
        while True:
            try:
                st = path.stat()
                stamp = (st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                stamp = None
            if stamp != last and stamp is not None:
                render()
                print(f"report updated {time.strftime('%H:%M:%S')}; watching {path} (Ctrl-C to stop)", flush=True)
                last = stamp
            elif stamp is None and last is None:
                print(f"waiting for {path} (Ctrl-C to stop)", flush=True)
                last = (-1, -1)
            time.sleep(interval)
    except KeyboardInterrupt:
        print("stopped watching", file=sys.stderr)
        return 0
