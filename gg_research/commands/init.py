"""Create a research workspace: a git repository holding train.py (the GG-Net baseline the loop
edits), program.md (the research brief) and gg-research.toml, with an initial commit."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, help="folder to create (must be missing or empty)")


def run(args: argparse.Namespace) -> int:
    from gg_research.config import CONFIG_NAME
    from gg_research.workspace import init_workspace

    existed = (Path(args.dir) / CONFIG_NAME).is_file()
    path = init_workspace(args.dir)
    if existed:
        print(f"{path}: already a gg-research workspace; left as it is")
        return 0
    print(f"created workspace {path}")
    print("  train.py          the baseline the loop edits")
    print("  program.md        the research brief: edit it")
    print(f"  {CONFIG_NAME:<17} data, budget, objectives, keep rule, proposer")
    print(f"next: cd {args.dir} && gg-research run --budget 60")
    return 0
