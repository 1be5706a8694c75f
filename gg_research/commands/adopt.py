"""Adopt an existing autoresearch-style repo (train.py, prepare.py, program.md, a `---` summary,
results.tsv) as a workspace, in place: its train.py, commits and branches are left as they are.

It infers the mutable and frozen files, the run command (program.md), the objectives and their
direction (program.md's goal, the kept history of results.tsv; asked at a terminal when neither
says), then creates the branch gg/adopted at the newest kept commit git has, commits
gg-research.toml and .gitignore lines there, and imports results.tsv's rows into the ledger as
past experiments (tag 'imported'): the loop's memory, never re-run or re-judged. --dry-run shows
all of it and writes nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gg_research.workspace_map import ADOPTED_BRANCH


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, nargs="?", default=Path("."), help="the repo to adopt (default: here)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be written; write nothing")
    parser.add_argument("--command", help="the run command, without a shell (default: from program.md)")
    parser.add_argument("--objective", action="append", metavar="NAME[:max|min]",
                        help="an objective of the summary (repeat for several; default: inferred)")
    parser.add_argument("--mutable", action="append", metavar="FILE", help="a file the loop may edit (default: train.py)")
    parser.add_argument("--budget", type=float, metavar="SECONDS", help="training budget of a run (default: program.md's, else 300)")
    parser.add_argument("--results", type=Path, metavar="TSV", help="the history to import (default: DIR/results.tsv)")
    parser.add_argument("--branch", default=ADOPTED_BRANCH, help=f"the branch adopt creates (default: {ADOPTED_BRANCH})")
    parser.add_argument("--history-tag", default="imported", help="the ledger tag of the imported rows (default: imported)")


def run(args: argparse.Namespace) -> int:
    from gg_research.adopt import apply_adoption, plan_adoption

    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.dry_run
    plan = plan_adoption(args.dir, command=args.command, objectives=args.objective, mutable=args.mutable,
                         budget_s=args.budget, branch=args.branch, history_tag=args.history_tag,
                         results_tsv=args.results, ask=input if interactive else None)
    for line in plan.describe():
        print(line)
    if args.dry_run:
        print(f"\n--- gg-research.toml (dry run: nothing written) ---\n{plan.toml()}")
        return 0
    for line in apply_adoption(plan):
        print(line)
    print("next: gg-research run --budget 60   (one run of the command, to check it prints the summary)")
    print("      gg-research loop --tag NAME    (the night; the imported history is its memory)")
    return 0
