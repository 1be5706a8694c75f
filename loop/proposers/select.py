"""Picks the proposer the config or the command line asks for."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gg_research.loop.proposers.base import Proposer, ProposerContext


def proposer_factory(kind: str | None = None, script: str | None = None,
                     say: Callable[[str], None] = print) -> Callable[[ProposerContext], Proposer]:
    """A function that builds the proposer once the engine knows its workspace and ledger."""

    def build(ctx: ProposerContext) -> Proposer:
        chosen = kind or ctx.config.proposer.kind
        if chosen == "auto":
            if os.environ.get("ANTHROPIC_API_KEY"):
                chosen = "claude"
            else:
                chosen = "optuna"
                say("proposer: optuna (offline) because ANTHROPIC_API_KEY is not set")
        if chosen == "scripted":
            from gg_research.loop.proposers.scripted import ScriptedProposer

            path = Path(script or ctx.config.proposer.script)
            path = path if path.is_absolute() else (Path.cwd() / path if script else ctx.workspace / path)
            return ScriptedProposer(path, done_lines=ScriptedProposer.done_lines(ctx.records))
        if chosen == "optuna":
            from gg_research.loop.proposers.optuna_proposer import OptunaProposer

            return OptunaProposer(ctx.workspace, ctx.config, ctx.tag)
        from gg_research.loop.proposers.claude import ClaudeProposer

        return ClaudeProposer(ctx.workspace, ctx.config, ctx.tag, searcher=ctx.grounding.searcher, say=say)

    return build
