"""The token-budgeted block of retrieved passages that goes into a hypothesis prompt."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from collections.abc import Callable

from gg_research.retrieval.passage import Passage

TokenCounter = Callable[[str], int]
MIN_TRIMMED_TOKENS = 24  # a passage cut shorter than this says nothing; leave it out instead
ELLIPSIS = " …"


def estimate_tokens(text: str) -> int:
    """About 4 characters a token for English prose with LLM tokenizers; errs on the long side."""
    return math.ceil(len(text) / 3.5)


@dataclass
class ContextBlock:
    text: str
    passages: list[Passage] = field(default_factory=list)


def header(p: Passage) -> str:
    return f"[{p.key()}] {p.where()}"


def build_context(passages: list[Passage], token_budget: int, count_tokens: TokenCounter = estimate_tokens) -> ContextBlock:
    """Passages in order, each headed by its key, source, page and section, within `token_budget`.

    The passage that would overflow is cut at a word boundary (marked with …) when enough room
    is left for it to be useful; passages after it are left out. `passages` of the result are
    the ones shown, with the text as shown.
    """
    parts: list[str] = []
    shown: list[Passage] = []
    used = 0
    for p in passages:
        head = header(p)
        sep = "\n\n" if parts else ""
        full = f"{sep}{head}\n{p.text.strip()}"
        cost = count_tokens(full)
        if used + cost <= token_budget:
            parts.append(full)
            shown.append(p)
            used += cost
            continue
        room = token_budget - used - count_tokens(f"{sep}{head}\n{ELLIPSIS}")
        if room >= MIN_TRIMMED_TOKENS:
            cut = _trim(p.text.strip(), room, count_tokens)
            if cut:
                parts.append(f"{sep}{head}\n{cut}{ELLIPSIS}")
                shown.append(replace(p, text=cut + ELLIPSIS))
        break
    return ContextBlock("".join(parts), shown)


def _trim(text: str, budget: int, count_tokens: TokenCounter) -> str:
    """The longest word-boundary prefix of `text` within `budget` tokens (binary search on words)."""
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(" ".join(words[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])
