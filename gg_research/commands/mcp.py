"""A Model Context Protocol server (stdio) over one workspace, for Claude Code or any MCP agent.

Tools: search_knowledge(query, k), loop_state(), run_experiment(title, rationale, citations,
wait_s), experiment_status(wait_s) and report(). run_experiment runs the agent's working-tree
edit of the mutable files as one experiment (the same checks, lock, keep rule, ledger and report
as the loop; proposer "agent"). It is start-and-poll: it waits up to wait_s seconds (sending
progress notifications meanwhile) and, if the experiment is still running, returns "running";
experiment_status then waits for the result. The experiment runs in its own process, so it
outlives a tool-call timeout and a restart of the server.

`gg-research init --agent claude-code` registers this server in .mcp.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gg_research.commands.loop import _tag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", type=Path, help="the workspace (default: the one around the current folder)")
    parser.add_argument("--tag", type=_tag, default="agent", help="the agent's loop: branch autoresearch/TAG (default: agent)")


def run(args: argparse.Namespace) -> int:
    from gg_research.config import CONFIG_NAME, find_workspace, load_config

    ws = find_workspace(args.workspace)
    config = load_config(ws / CONFIG_NAME)
    from gg_research.commands.mcp_server import serve  # the MCP SDK loads only here

    serve(ws, config, args.tag)
    return 0
