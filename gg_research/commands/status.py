"""The loop's state as the proposer sees it: the Pareto front, kept and recent runs, near misses,
collapses, the noise margins, the mutable files and what is running. Reads the ledger only, so it
answers while an experiment runs. --json for agents and scripts.
"""

from __future__ import annotations

import argparse
import json

from gg_research.commands.loop import _tag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", type=_tag, default="agent", help="which loop (default: agent, the tag of 'step' and 'mcp')")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from gg_research.config import CONFIG_NAME, find_workspace, load_config
    from gg_research.loop.agent_state import loop_state, state_text

    ws = find_workspace()
    state = loop_state(ws, load_config(ws / CONFIG_NAME), args.tag)
    print(json.dumps(state, indent=2) if args.json else state_text(state))
    return 0
