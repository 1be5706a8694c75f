"""One experiment of your own edit, under the loop's rules (for coding agents without MCP).

Edit the mutable files (train.py) in the working tree, then run `gg-research step --title ...`:
the edit is checked exactly as the loop checks a hypothesis (only mutable files changed, it
compiles, not a repeat), committed on branch autoresearch/TAG, run under the budget, judged by the
keep rule, tagged (keep) or reverted (anything else), and recorded in the ledger and the report
with proposer "agent". The first step of a tag measures the baseline first. Edits outside the
mutable files are refused before anything is touched. Holds the loop's lock while it runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gg_research.commands.loop import _tag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--title", required=True, help="one line: what the edit changes (the commit message)")
    parser.add_argument("--rationale", default="", help="why it should help, citing passages by key")
    parser.add_argument("--cite", action="append", default=[], metavar="KEY",
                        help="citation key of a passage it rests on (a chunk id from 'gg-research search'); repeatable")
    parser.add_argument("--tag", type=_tag, default="agent", help="the agent's loop: branch autoresearch/TAG (default: agent)")
    parser.add_argument("--json", action="store_true",
                        help="print the result as JSON, a refusal too (progress lines go to stderr)")
    parser.add_argument("--no-report", action="store_true", help="do not refresh results/report.html afterwards")
    # Set by the MCP server: the passages the agent read, and how it called.
    parser.add_argument("--passages", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--via", default="cli", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from gg_research.config import CONFIG_NAME, find_workspace, load_config
    from gg_research.loop.agent import AgentStep, QuietUI, StepRequest
    from gg_research.loop.ui import LoopUI

    ws = find_workspace()
    config = load_config(ws / CONFIG_NAME)
    from gg_research.commands.isolation import say_if_unboxed

    say_if_unboxed(config)
    passages = []
    if args.passages is not None and args.passages.is_file():
        passages = [p for p in json.loads(args.passages.read_text(encoding="utf-8")) if isinstance(p, dict)]
    from gg_research.errors import GGError

    # A terminal gets the live line; captured output (an agent's shell tool, a log) plain lines that move.
    if args.json:
        ui: LoopUI = QuietUI()
    else:
        live = LoopUI()
        ui = live if live.console.is_terminal else QuietUI(say=lambda text: print(text, flush=True))
    step = AgentStep(ws, config, args.tag, ui=ui, write_report=not args.no_report,
                     on_accepted=lambda first: ui.say("no baseline yet for this tag: measuring it first") if first else None)
    req = StepRequest(title=args.title, rationale=args.rationale, citations=list(args.cite), passages=passages,
                      info={"via": args.via})
    try:
        outcome = step.run(req)
    except GGError as exc:
        if args.json:  # a caller reading stdout learns why too; stderr and the exit code say it as always
            print(json.dumps({"status": "not run", "error": str(exc)}, indent=2), flush=True)
        raise
    result = outcome.to_json([o.name for o in config.objectives])
    if args.json:
        print(json.dumps(result, indent=2), flush=True)
    else:
        ui.say(result["message"])
    return 0
