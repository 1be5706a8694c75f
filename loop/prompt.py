"""The Claude prompt: static parts (cached) and the per-experiment state.

`first_request` is the one builder of what Claude receives; the proposer sends it and
`gg-research loop --show-prompt` prints it, so the preview is exactly the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gg_research.config import Config
from gg_research.loop.hypothesis import tool_input_schema
from gg_research.loop.state import LoopState

if TYPE_CHECKING:
    from gg_research.retrieval.passage import Passage

CACHE = {"type": "ephemeral"}

SYSTEM = """You are the research engineer of an overnight experiment loop on a segmentation model \
(GG-Net: a spatial transformer aligns a G-code toolpath render to a camera image of a 3D-printed \
layer, a segmentation network marks defects). Each experiment is one focused change of the mutable \
files, trained under a fixed time budget and scored on the objectives below; the loop keeps a change \
only if it improves the Pareto front beyond the measured noise, and reverts it otherwise.

How to work:
- Read the research brief, the kept runs, what collapsed and what nearly worked.
- Ground the idea in the retrieved passages of the researcher's own dissertation and papers; call \
search_knowledge for more when the passages do not cover the question. Read the training curves: a \
run still improving when its budget ended was cut short, not beaten; a loss that diverged or went NaN \
points at the step size or a loss weight rather than the idea (training_curve gives a whole series). Cite passages by their key \
(the text in square brackets) in `citations` and mention them in the rationale.
- Then call propose_experiment once. In `lesson`, say first what the previous experiment's result \
taught (the prompt names it), citing by key the passages it supported or contradicted: the lessons \
are the night's research journal. Each edit replaces a `search` text that occurs exactly once \
in a mutable file with `replace`; copy the search text exactly, including indentation. Keep the \
change small and attributable, keep the file valid Python, and do not repeat an earlier experiment \
(a hypothesis too close to one is refused before it runs).
- Notes from the researcher, when there are any, steer the night: follow the newest.
- Never propose shell commands, package installs, or edits of any file other than the mutable ones."""

SEARCH_TOOL: dict[str, Any] = {
    "name": "search_knowledge",
    "description": "Hybrid search of the researcher's knowledge base (dissertation, papers, notes). "
                   "Returns passages headed by [key] source, page and section.",
    "input_schema": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for, in words."},
            "k": {"type": "integer", "minimum": 1, "maximum": 10, "description": "How many passages (default 5)."},
        },
        "required": ["query"],
    },
}


CURVE_TOOL: dict[str, Any] = {
    "name": "training_curve",
    "description": "The training curve an experiment of this loop reported as it trained (its loss by default, or "
                   "another series it logged), thinned to at most 60 points, with the same reading as in the ledger.",
    "input_schema": {
        "type": "object",
        "properties": {
            "experiment": {"type": "string", "description": "An experiment id of the ledger, e.g. e0004."},
            "series": {"type": "string", "description": "A series name (default: the loss)."},
        },
        "required": ["experiment"],
    },
}


def propose_tool() -> dict[str, Any]:
    return {
        "name": "propose_experiment",
        "description": "Propose the next experiment: a titled, cited hypothesis with search/replace edits of mutable files.",
        "input_schema": tool_input_schema(),
    }


def system_blocks(brief: str, objectives: str) -> list[dict[str, Any]]:
    """System prompt and program.md: identical all night, so marked for prompt caching."""
    return [
        {"type": "text", "text": f"{SYSTEM}\n\nObjectives: {objectives}"},
        {"type": "text", "text": f"# Research brief (program.md)\n\n{brief.strip() or '(empty)'}", "cache_control": CACHE},
    ]


KINDS = "architecture, loss, data, curriculum, schedule"


def objectives_text(config: Config) -> str:
    return ", ".join(f"{o.name} ({o.direction})" for o in config.objectives)


def first_request(state: LoopState, config: Config, feedback: str | None = None,
                  passages: list[Passage] | None = None) -> dict[str, Any]:
    """The Messages API request that opens the conversation for this state (model, system, tools, turn).

    `passages` replaces the state's own (the evidence step's choice, loop/evidence.py).
    """
    from gg_research.retrieval import build_context

    p = config.proposer
    chosen = list(state.passages) if passages is None else passages
    block = build_context(chosen, p.context_tokens) if chosen else None
    return {
        "model": p.model, "max_tokens": p.max_tokens,
        "system": system_blocks(state.brief, objectives_text(config)),
        "messages": [{"role": "user", "content": state_content(state, block.text if block else "", feedback)}],
        "tools": [SEARCH_TOOL, propose_tool(), CURVE_TOOL],
        "tool_choice": {"type": "auto"} if p.search_calls > 0 else {"type": "tool", "name": "propose_experiment"},
    }


def state_content(state: LoopState, passages_text: str, feedback: str | None) -> list[dict[str, Any]]:
    """The first user turn: the passages block (cached), then the state of this experiment."""
    blocks: list[dict[str, Any]] = [{
        "type": "text",
        "text": "# Retrieved passages\n\n" + (passages_text or "(the knowledge base returned nothing for this state)"),
        "cache_control": CACHE,
    }]
    files = "\n\n".join(f"## {path}\n```python\n{text}\n```" for path, text in state.files.items())
    parts = [f"# Mutable files (the latest kept commit)\n\n{files}", f"# Ledger of this loop ({state.tag})\n\n{state.summary_text()}"]
    if state.notes:
        parts.append("# Notes from the researcher, added during the night (newest last)\n\n" + state.notes_text())
    plateau = state.plateau()
    if plateau is not None:
        parts.append(f"# Plateau: {plateau.length} experiments without a keep ({plateau.ids[0]}..{plateau.ids[-1]})\n\n"
                     f"Small variations of the last ideas are not paying off. Propose a change of a different kind "
                     f"({KINDS}) than the last {plateau.length} experiments, and say in the rationale which kind it is.")
    if feedback:
        parts.append(f"# Your previous hypothesis was refused\n\n{feedback}\nPropose a different, valid one.")
    subject = state.lesson_subject
    if subject is not None:
        parts.append(f"In `lesson`, say what the result of {subject.id} ({subject.title}, {subject.status}) taught. "
                     "Then propose the next experiment.")
    else:
        parts.append("Propose the next experiment.")
    blocks.append({"type": "text", "text": "\n\n".join(parts)})
    return blocks
