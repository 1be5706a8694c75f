"""Evidence ranked by a small model (`[knowledge] evidence = "model"`), as PaperQA2's evidence step.

The hybrid search finds passages that share the question's words or meaning; whether a passage
says anything about the question is a judgement that a small, cheap model makes well. Each
candidate goes to it in a request of its own, in parallel: a score from 0 to 10 and one or two
sentences on what the passage says about the question. The best few, with their summaries, go
into the proposer's prompt. Any failure (the API, an answer that is not the JSON asked for)
raises EvidenceError: the caller keeps the hybrid ranking and the night goes on.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anthropic import Anthropic
    from anthropic.types import Usage

    from gg_research.retrieval.passage import Passage

MAX_WORKERS = 8
MAX_TOKENS = 200
SYSTEM = (
    "You judge how much one passage from a researcher's dissertation or papers says about a question "
    "about their experiments. Reply with JSON only, no prose around it: "
    '{"score": <integer 0-10, 0 = says nothing about it, 10 = answers it>, '
    '"summary": "<one or two sentences: what the passage says about the question>"}'
)
_JSON = re.compile(r"\{.*\}", re.DOTALL)


class EvidenceError(Exception):
    """The evidence step failed; the hybrid ranking stands."""


@dataclass
class Evidence:
    passage: Passage
    score: int
    summary: str
    rank: int  # its place in the hybrid ranking, for ties


def score_passages(client: Anthropic, model: str, question: str, passages: Sequence[Passage],
                   charge: Callable[[Usage], None]) -> list[Evidence]:
    """Every passage scored and summarised for `question` (parallel requests), best first.

    `charge` gets each response's usage as it comes, so tokens spent before a failure are counted.
    """
    def one(rank_passage: tuple[int, Passage]) -> Evidence:
        rank, p = rank_passage
        try:
            resp = client.messages.create(
                model=model, max_tokens=MAX_TOKENS, system=SYSTEM,
                messages=[{"role": "user", "content": f"Question: {question}\n\nPassage [{p.key()}] {p.where()}:\n{p.text}"}],
            )
        except Exception as exc:
            raise EvidenceError(f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None
        charge(resp.usage)
        text = "".join(getattr(b, "text", "") for b in resp.content)
        m = _JSON.search(text)
        try:
            data = json.loads(m.group(0)) if m else None
            score = int(data["score"])  # type: ignore[index]
            summary = " ".join(str(data["summary"]).split())  # type: ignore[index]
        except (ValueError, TypeError, KeyError) as exc:
            raise EvidenceError(f"the evidence model's answer for [{p.key()}] is not the JSON asked for ({text[:80]!r})") from exc
        return Evidence(p, max(0, min(10, score)), summary, rank)

    if not passages:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(passages))) as pool:
        found = list(pool.map(one, enumerate(passages)))
    return sorted(found, key=lambda e: (-e.score, e.rank))


def evidence_passages(evidence: Sequence[Evidence], keep: int) -> list[Passage]:
    """The best `keep` passages that say something (score > 0), each with its score and summary
    in front of its text, ready for the context block."""
    return [
        replace(e.passage, text=f"Relevance {e.score}/10. Summary: {e.summary}\n{e.passage.text}")
        for e in evidence if e.score > 0
    ][:keep]
