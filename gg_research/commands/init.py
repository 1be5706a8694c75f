"""Create a research workspace: a git repository holding train.py (the GG-Net baseline the loop
edits), program.md (the research brief) and gg-research.toml, with an initial commit.

--agent claude-code also registers the MCP server for Claude Code (.mcp.json, by command name) and
writes its guard rails (.claude/settings.json: the mutable files and the gg-research tools allowed,
so a night runs unattended; the labels, the dataset, the sealed test scores, the ledger and the
config denied to its file tools and, through Claude Code's sandbox, to its shell), CLAUDE.md, and a
section of program.md on how an agent works with the tools and what is off limits; --agent generic
writes mcp.json (the usual mcpServers format) and AGENTS.md instead. On an existing workspace,
--agent adds just that (committed)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, help="folder to create (must be missing or empty)")
    parser.add_argument("--agent", choices=("claude-code", "generic"),
                        help="also set up a coding agent: its MCP registration file and program.md's agent section")


def run(args: argparse.Namespace) -> int:
    from gg_research.config import CONFIG_NAME
    from gg_research.agent_setup import add_agent
    from gg_research.workspace import init_workspace

    existed = (Path(args.dir) / CONFIG_NAME).is_file()
    path = init_workspace(args.dir)
    written = add_agent(path, args.agent) if args.agent else []
    if existed:
        if written:
            print(f"{path}: already a gg-research workspace; added and committed {', '.join(written)}")
        else:
            print(f"{path}: already a gg-research workspace; left as it is")
        return 0
    print(f"created workspace {path}")
    print("  train.py          the baseline the loop edits")
    print("  program.md        the research brief: edit it")
    print(f"  {CONFIG_NAME:<17} data, budget, objectives, keep rule, proposer")
    for name in written:
        print(f"  {name:<17} for the {args.agent} agent")
    if args.agent:
        from gg_research.agent_setup import registration_problems

        for problem in registration_problems(path):
            print(f"warning: {problem}")
    if args.agent == "claude-code":
        print(f"next: cd {args.dir} && claude   (then: 'read program.md and start experimenting')")
    else:
        print(f"next: cd {args.dir} && gg-research run --budget 60")
    return 0
