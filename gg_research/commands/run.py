"""Run one experiment of the workspace's current train.py under the time budget, evaluate it
on the fixed validation split, print the summary block and write
results/runs/<id>/last_run.json. Exit 0 on success, 1 on a crash or timeout."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from gg_research.commands.args import positive
from gg_research.workspace_map import WorkspaceMap

if TYPE_CHECKING:  # the harness is imported only when a run starts (gg-research --help stays fast)
    from gg_research.config import Config
    from gg_research.harness.runner import RunResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", type=positive(float), metavar="S",
                        help="training budget in seconds, or the time cap of an images budget (default: [run] budget_s)")
    parser.add_argument("--seed", type=int, metavar="K", help="seed (default: [run] seed)")
    parser.add_argument("--device", metavar="D", help="auto, cpu, cuda or cuda:N (default: [run] device)")
    parser.add_argument("--workspace", type=Path, metavar="DIR", help="workspace folder (default: the one containing the current folder)")
    parser.add_argument("--quiet", action="store_true", help="do not echo the training log, only the summary")


def next_run_dir(workspace: Path) -> Path:
    """results/runs/rNNNN, the next free number (created, so parallel runs cannot share it)."""
    runs = WorkspaceMap(workspace).runs
    runs.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name[1:]) for p in runs.glob("r[0-9][0-9][0-9][0-9]*") if p.name[1:].isdigit()]
    n = max(taken, default=0) + 1
    while True:
        d = runs / f"r{n:04d}"
        try:
            d.mkdir()
            return d
        except FileExistsError:
            n += 1


def _run_with_progress(workspace: Path, run_dir: Path, config: Config, budget: float,
                       args: argparse.Namespace) -> RunResult:
    """On a terminal, a progress bar of training time left; elsewhere the plain child log."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from gg_research.harness import wire
    from gg_research.harness.runner import run_experiment

    console = Console()
    if args.quiet or not console.is_terminal:
        return run_experiment(workspace, run_dir, config=config, echo=not args.quiet)
    images = config.run.budget_images if config.run.budget == "images" else 0
    with Progress(TextColumn("training"), BarColumn(), TextColumn("{task.fields[info]}"), console=console, transient=True) as bar:
        task = bar.add_task("train", total=images or budget, info="starting")

        def on_line(line: str) -> None:
            p = wire.parse_progress(line)
            if p is not None:
                done = min(p.scalars.get("images", 0.0), images) if images else min(p.elapsed, budget)
                left = f"{images - done:.0f} images" if images else f"{p.left:.0f}s"
                bar.update(task, completed=done, info=f"{left} left, step {p.step} {p.scalars_text()[:60]}")
            else:
                bar.console.print(line.rstrip("\n"), markup=False, highlight=False)

        return run_experiment(workspace, run_dir, config=config, on_line=on_line)


def run(args: argparse.Namespace) -> int:
    import sys

    from gg_research.commands.overrides import with_flags
    from gg_research.config import CONFIG_NAME, find_workspace, load_config

    workspace = find_workspace(args.workspace)
    config = with_flags(load_config(workspace / CONFIG_NAME), budget_s=args.budget, seed=args.seed,
                        device=args.device or None)
    from gg_research.commands.isolation import say_if_unboxed
    from gg_research.harness.summary import format_summary

    say_if_unboxed(config)
    if not config.run.command:
        # Generate the synthetic set (once, cached) here, so it never eats into the hard limit.
        from gg_research.harness.data import dataset_root, synthetic_cached

        if not config.data.dataset and not synthetic_cached(workspace, config):
            print(f"generating the synthetic dataset ({config.data.synth_n} images, once) ...", flush=True)
        dataset_root(workspace, config)
    run_dir = next_run_dir(workspace)
    budget = config.run.budget_s
    span = f"{config.run.budget_images} images (at most {budget:g}s)" if config.run.budget == "images" else f"{budget:g}s"
    print(f"run {run_dir.relative_to(workspace)}: training budget {span}", flush=True)
    result = _run_with_progress(workspace, run_dir, config, budget, args)
    if result.status != "ok":
        print(f"gg-research run: {result.status}: {result.error} (log: {result.log_path})", file=sys.stderr)
        return 1
    if args.quiet:  # otherwise the child's own block was echoed last already
        print(format_summary(result.summary))
    return 0
