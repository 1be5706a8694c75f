"""`gg-research loop --show-prompt`: what Claude would receive for a tag's current state, offline.

The state is built as the engine builds it before a proposal (the tag's finished experiments,
the mutable files of the latest kept commit, program.md, the notes, the retrieved passages) and
the request comes from `prompt.first_request`, the builder the proposer sends. Nothing is
called, written or checked out: the files are read from git, so a running loop is not disturbed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.loop.apply import mutable_contents
from gg_research.loop.git import Git
from gg_research.loop.grounding import Grounding, PassageSource
from gg_research.loop.prompt import first_request
from gg_research.loop.state import LoopState
from gg_research.loop.steering import read_brief, read_notes
from gg_research.results.journal import imported_history
from gg_research.results.ledger import LedgerFile, Status
from gg_research.retrieval.context_block import estimate_tokens


def preview_state(workspace: Path, config: Config, tag: str, grounding: PassageSource,
                  say: Callable[[str], None]) -> LoopState:
    ws = Path(workspace).resolve()
    everything = LedgerFile(ws, [o.name for o in config.objectives]).read().experiments
    records = [e for e in everything if e.tag == tag and e.status.final]
    kept = [e for e in records if e.status.kept]
    mutable = list(config.workspace.mutable)
    if kept:
        git = Git(ws)
        files = {path: git("show", f"{kept[-1].commit}:{path}") for path in mutable}
    else:
        say(f"(tag {tag!r} has no baseline yet: the files are the working tree's, and the loop would measure the baseline first)")
        files = mutable_contents(ws, mutable)
    base = next((e for e in reversed(records) if e.status is Status.BASELINE), None)
    brief = read_brief(ws, config)
    return LoopState(workspace=ws, tag=tag, config=config, brief=brief, files=files, records=records,
                     eps=dict(base.epsilon) if base else {}, passages=grounding.passages(brief, records),
                     notes=read_notes(ws), history=imported_history(everything))


def render_request(request: dict[str, Any], config: Config) -> str:
    """The request as readable text: every block verbatim, its cache marks, the tools by name."""
    out: list[str] = []
    texts = [b["text"] for b in request["system"]] + [b["text"] for b in request["messages"][0]["content"]]
    tokens = sum(estimate_tokens(t) for t in texts)
    price = config.proposer.price(request["model"])
    cost = f", about ${tokens * price.input / 1e6:.4f} uncached at the configured price" if price else ""
    out.append(f"# model {request['model']} · max_tokens {request['max_tokens']} · tools "
               f"{', '.join(t['name'] for t in request['tools'])} · tool_choice {request['tool_choice']['type']} · "
               f"about {tokens:,} input tokens{cost}")
    for where, blocks in (("system", request["system"]), ("user turn", request["messages"][0]["content"])):
        for i, block in enumerate(blocks, 1):
            mark = " (cache_control: ephemeral)" if block.get("cache_control") else ""
            out += ["", f"===== {where}, block {i}{mark} =====", block["text"]]
    return "\n".join(out) + "\n"


def show_prompt(workspace: Path, config: Config, tag: str, fmt: str = "text",
                say: Callable[[str], None] = print, grounding: PassageSource | None = None) -> str:
    """The first request of the next proposal: readable text, or the exact JSON body (`fmt="json"`)."""
    grounding = grounding or Grounding(Path(workspace).resolve(), config, say)
    request = first_request(preview_state(workspace, config, tag, grounding, say), config)
    if fmt == "json":
        return json.dumps(request, indent=2, ensure_ascii=False) + "\n"
    return render_request(request, config)
