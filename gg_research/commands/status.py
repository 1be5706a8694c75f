"""The loop's state as the proposer sees it: the Pareto front, kept and recent runs, near misses,
collapses, the noise margins, the mutable files and what is running. Reads the ledger only, so it
answers while an experiment runs. --json for agents and scripts. It also says when the MCP server
registered in the workspace (.mcp.json, mcp.json) does not start, e.g. after the environment moved.
"""

from __future__ import annotations

import argparse
import json
import sys

from gg_research.commands.loop import _tag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", type=_tag, default="agent", help="which loop (default: agent, the tag of 'step' and 'mcp')")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from gg_research.config import CONFIG_NAME, find_workspace, load_config
    from gg_research.loop.agent_state import loop_state, state_text

    from gg_research.agent_setup import registration_problems

    ws = find_workspace()
    state = loop_state(ws, load_config(ws / CONFIG_NAME), args.tag)
    problems = registration_problems(ws)
    if args.json:
        print(json.dumps({**state, "registration_problems": problems}, indent=2))
    else:
        print(state_text(state))
        for problem in problems:
            print(f"warning: {problem}", file=sys.stderr)
    return 0
