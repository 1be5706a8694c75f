"""Picks the proposer the config or the command line asks for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from loop.engine import LoopEngine


def proposer_factory(kind: str | None = None, script: str | None = None,
                     say: Callable[[str], None] = print) -> Callable[["LoopEngine"], Any]:
    """A function that builds the proposer once the engine knows its workspace and ledger."""

    def build(engine: "LoopEngine") -> Any:
        chosen = kind or engine.cfg.proposer.kind
        if chosen == "auto":
            if os.environ.get("ANTHROPIC_API_KEY"):
                chosen = "claude"
            else:
                chosen = "optuna"
                say("proposer: optuna (offline) because ANTHROPIC_API_KEY is not set")
        records = engine.records()
        if chosen == "scripted":
            from loop.proposers.scripted import ScriptedProposer

            path = Path(script or engine.cfg.proposer.script)
            path = path if path.is_absolute() else (Path.cwd() / path if script else engine.ws / path)
            return ScriptedProposer(path, done_lines=ScriptedProposer.done_lines(records))
        if chosen == "optuna":
            from loop.proposers.optuna_proposer import OptunaProposer

            return OptunaProposer(engine.ws, engine.cfg, engine.tag, records)
        from loop.proposers.claude import ClaudeProposer

        return ClaudeProposer(engine.ws, engine.cfg, engine.tag, records, searcher=engine.searcher, say=say)

    return build
