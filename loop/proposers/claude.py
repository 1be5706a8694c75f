"""Claude as the proposer: tool use for search_knowledge and propose_experiment.

The API key is read from ANTHROPIC_API_KEY only and never written anywhere: messages that
leave this module pass through `_scrub`. The loop never dies of the API: failures are
retried with backoff (the SDK's own retries, then an outer loop), then the experiment
falls back to Optuna or waits, as the config says.

Every response's token usage is added up and priced by `[proposer.prices]`; the sum travels
with the next hypothesis into the ledger (tokens of failed conversations included). Once the
loop's estimated cost reaches `max_cost_usd`, Claude proposes nothing more: Optuna stands in
for the rest of the night (`fallback = "optuna"`), or the loop stops (`fallback = "wait"`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gg_research.config import Config, PriceConfig
from gg_research.loop.errors import ProposerError, ProposerExhausted
from gg_research.loop.hypothesis import Hypothesis, HypothesisError, parse_hypothesis
from gg_research.loop.prompt import first_request
from gg_research.loop.state import LoopState
from gg_research.results.journal import night_cost
from gg_research.results.ledger import Experiment
from gg_research.results.record import Usage

OUTER_ATTEMPTS = 3  # conversations tried (each with the SDK's own retries) before the fallback
MAX_WAIT_S = 600.0
MALFORMED_LIMIT = 2  # invalid propose_experiment inputs sent back within one conversation
DEFAULT_PASSAGES = 5  # passages a prompt carries from the hybrid ranking when the evidence step is off


class NoProposal(Exception):
    """A conversation that ended without a valid hypothesis (counts as a failed attempt)."""


def _block_dict(block: Any) -> dict[str, Any]:
    if block.type == "text":
        return {"type": "text", "text": block.text}
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    dumped: dict[str, Any] = block.model_dump(exclude_none=True)
    return dumped


def usage_of(sdk_usage: Any, model: str, price: PriceConfig | None) -> Usage:
    """One response's usage (the SDK's object) with its estimated cost; None counts as 0 tokens."""
    def n(name: str) -> int:
        return int(getattr(sdk_usage, name, 0) or 0)

    u = Usage(n("input_tokens"), n("output_tokens"), n("cache_read_input_tokens"), n("cache_creation_input_tokens"),
              requests=1, model=model)
    if price is not None:
        u.cost_usd = (u.input_tokens * price.input + u.output_tokens * price.output
                      + u.cache_read_tokens * price.cache_read + u.cache_write_tokens * price.cache_write) / 1e6
    return u


def _curve(state: LoopState, tool_input: Any) -> str:
    if not isinstance(tool_input, dict) or not isinstance(tool_input.get("experiment"), str):
        return "training_curve needs an 'experiment' id string."
    series = tool_input.get("series")
    return state.curve_of(tool_input["experiment"].strip(), series if isinstance(series, str) and series else None)


def _tool_result(use_id: str, text: str, error: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "tool_result", "tool_use_id": use_id, "content": [{"type": "text", "text": text}]}
    if error:
        out["is_error"] = True
    return out


class ClaudeProposer:
    name = "claude"
    wants_passages = True
    checks_novelty = True  # prose hypotheses can repeat an idea in new words (loop.novelty)

    def __init__(self, workspace: Path, config: Config, tag: str, *,
                 searcher: Callable[[], Any] = lambda: None, say: Callable[[str], None] = print,
                 backoff_s: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> None:
        key = os.environ.get("ANTHROPIC_API_KEY", "")
        if not key:
            raise ProposerError("the claude proposer needs ANTHROPIC_API_KEY in the environment (or use --proposer optuna)")
        import anthropic

        self._key = key
        self.ws, self.cfg, self.tag = Path(workspace), config, tag
        p = config.proposer
        self.client = anthropic.Anthropic(api_key=key, base_url=p.base_url or None, max_retries=p.max_retries, timeout=p.timeout_s)
        self._searcher = searcher
        self._say = say
        self._backoff = backoff_s
        self._sleep = sleep
        self._fallback: Any = None
        self._pending = Usage()  # tokens used since the last hypothesis was handed over
        self._charge_lock = threading.Lock()
        self._capped = False
        k = config.knowledge
        # The engine fetches this many passages for a state: the evidence step's candidates.
        self.passages_k = k.evidence_candidates if k.evidence == "model" else DEFAULT_PASSAGES

    # -- cost ---------------------------------------------------------------------------------------
    def _charge(self, sdk_usage: Any, model: str | None = None) -> None:
        p = self.cfg.proposer
        model = model or p.model
        with self._charge_lock:  # the evidence step charges from its worker threads
            self._pending = self._pending + usage_of(sdk_usage, model, p.price(model))

    def _hand_over(self, hyp: Hypothesis) -> Hypothesis:
        if self._pending.requests:
            hyp.meta.usage = self._pending
            self._pending = Usage()
        return hyp

    def _over_budget(self, state: LoopState) -> bool:
        cap = self.cfg.proposer.max_cost_usd
        if cap <= 0 or self._capped:
            return self._capped
        spent = (night_cost(state.records) + self._pending).cost_usd
        if spent is not None and spent >= cap:
            self._capped = True
            then = ("optuna proposes the rest of the night" if self.cfg.proposer.fallback == "optuna"
                    else "the loop stops (fallback = wait)")
            self._say(f"claude: the estimated cost of this loop, ${spent:.2f}, reached proposer.max_cost_usd ${cap:.2f}; {then}")
        return self._capped

    # -- the Proposer protocol -------------------------------------------------------------------
    def propose(self, state: LoopState, feedback: str | None) -> Hypothesis:
        import anthropic

        if self._over_budget(state):
            if self.cfg.proposer.fallback == "optuna":
                try:
                    return self._hand_over(self._optuna(state).propose(state, feedback))
                except ProposerError as err:
                    raise ProposerExhausted(f"claude's cost cap is reached and optuna cannot stand in ({err})") from None
            raise ProposerExhausted(f"claude's estimated cost reached proposer.max_cost_usd ${self.cfg.proposer.max_cost_usd:.2f}")
        passages, scored = self._evidence(state)  # once per experiment, not per retried conversation
        attempt = 0
        while True:
            try:
                return self._hand_over(self._converse(state, feedback, passages, scored))
            except (anthropic.APIError, NoProposal) as exc:
                attempt += 1
                why = self._scrub(f"{type(exc).__name__}: {exc}")[:300]
                if attempt < OUTER_ATTEMPTS:
                    delay = self._backoff * 2 ** (attempt - 1)
                    self._say(f"claude: {why}; retrying in {delay:g} s")
                    self._sleep(delay)
                    continue
                if self.cfg.proposer.fallback == "optuna":
                    try:
                        fallback = self._optuna(state)
                    except ProposerError as err:  # e.g. no search space: waiting is all that is left
                        self._say(f"claude: {why}; optuna cannot stand in ({err})")
                    else:
                        self._say(f"claude: {why}; optuna proposes this experiment instead")
                        return self._hand_over(fallback.propose(state, feedback))
                delay = min(self._backoff * 2 ** attempt, MAX_WAIT_S)
                self._say(f"claude: {why}; waiting {delay:g} s before trying again")
                self._sleep(delay)

    def tell_baseline(self, exp: Experiment) -> None:
        pass  # the baseline reaches Claude through the prompt's ledger summary

    def tell(self, exp: Experiment) -> None:
        if exp.proposer == "optuna" and self._fallback is not None:
            self._fallback.tell(exp)

    # -- the evidence step ------------------------------------------------------------------------
    def _evidence(self, state: LoopState) -> tuple[list[Any], bool]:
        """The passages for the prompt and whether the evidence model chose them: scored and
        summarised by it when it is on, else (or when it fails, with a warning) the hybrid
        ranking's first ones."""
        k = self.cfg.knowledge
        hybrid = list(state.passages)[:DEFAULT_PASSAGES] if k.evidence == "model" else list(state.passages)
        if k.evidence != "model" or not state.passages:
            return hybrid, False
        from gg_research.loop.evidence import EvidenceError, evidence_passages, score_passages
        from gg_research.loop.grounding import state_query

        question = state_query(state.brief, state.records)
        try:
            scored = score_passages(self.client, k.evidence_model, question, list(state.passages),
                                    lambda usage: self._charge(usage, k.evidence_model))
        except EvidenceError as exc:
            self._say(f"claude: the evidence step failed ({self._scrub(str(exc))[:300]}); the passages keep the hybrid ranking")
            return hybrid, False
        return evidence_passages(scored, k.evidence_keep), True

    # -- one conversation -------------------------------------------------------------------------
    def _converse(self, state: LoopState, feedback: str | None, passages: list[Any] | None = None,
                  scored: bool = False) -> Hypothesis:
        p = self.cfg.proposer
        request = first_request(state, self.cfg, feedback, passages)
        messages: list[dict[str, Any]] = request.pop("messages")
        subject = state.lesson_subject
        searched: list[dict[str, Any]] = []
        searches = malformed = 0
        for _ in range(p.search_calls + MALFORMED_LIMIT + 3):
            force = searches >= p.search_calls
            resp = self.client.messages.create(**{
                **request, "messages": messages,
                "tool_choice": {"type": "tool", "name": "propose_experiment"} if force else {"type": "auto"}})
            self._charge(resp.usage)
            messages.append({"role": "assistant", "content": [_block_dict(b) for b in resp.content]})
            uses = [b for b in resp.content if b.type == "tool_use"]
            if not uses:
                searches = p.search_calls  # it answered in prose: force the proposal next
                messages.append({"role": "user", "content": "Call propose_experiment now with your hypothesis."})
                continue
            results = []
            for use in uses:
                if use.name == "propose_experiment":
                    try:
                        hyp = parse_hypothesis(use.input, where="propose_experiment")
                    except HypothesisError as exc:
                        malformed += 1
                        if malformed > MALFORMED_LIMIT:
                            raise NoProposal(f"malformed propose_experiment input {malformed} times: {exc}") from None
                        results.append(_tool_result(
                            use.id, f"Invalid input, nothing was run: {exc}. Call propose_experiment again with a corrected input.",
                            error=True))
                        continue
                    hyp.meta.proposer = self.name
                    hyp.meta.passages = searched
                    if scored and passages is not None:
                        hyp.meta.evidence = [p.chunk_id for p in passages]  # what the prompt carried, best first
                    if subject is not None:
                        hyp.meta.lesson_about = subject.id
                    return hyp
                if use.name == "training_curve":
                    searches += 1  # counted with the searches, so the conversation still ends in a proposal
                    results.append(_tool_result(use.id, _curve(state, use.input)))
                elif use.name == "search_knowledge":
                    searches += 1
                    text, found = self._search(use.input)
                    searched.extend(found)
                    results.append(_tool_result(use.id, text))
                else:
                    results.append(_tool_result(use.id, f"unknown tool {use.name!r}", error=True))
            messages.append({"role": "user", "content": results})
        raise NoProposal("no valid propose_experiment call within the turn limit")

    def _search(self, tool_input: Any) -> tuple[str, list[dict[str, Any]]]:
        from gg_research.retrieval import build_context

        if not isinstance(tool_input, dict) or not isinstance(tool_input.get("query"), str) or not tool_input["query"].strip():
            return "search_knowledge needs a non-empty 'query' string.", []
        k = tool_input.get("k", 5)
        k = k if isinstance(k, int) and 1 <= k <= 10 else 5
        searcher = self._searcher()
        if searcher is None:
            return "The knowledge base is empty; no passages.", []
        try:
            passages = searcher.search(tool_input["query"], k=k)
        except Exception as exc:
            return f"search failed: {type(exc).__name__}: {exc}", []
        if not passages:
            return "No passages matched.", []
        block = build_context(passages, self.cfg.proposer.context_tokens)
        return block.text, [p.citation() for p in block.passages]

    def _optuna(self, state: LoopState) -> Any:
        if self._fallback is None:
            from gg_research.loop.proposers.optuna_proposer import OptunaProposer

            self._fallback = OptunaProposer(self.ws, self.cfg, self.tag)
            if state.baseline is not None:
                self._fallback.tell_baseline(state.baseline)
        return self._fallback

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "[ANTHROPIC_API_KEY]") if self._key else text
