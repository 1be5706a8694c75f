"""Hypotheses from a JSONL file, one a line, run in order (tests, and queues a human writes)."""

from __future__ import annotations

import json
from pathlib import Path

from gg_research.loop.errors import ProposerError, ProposerExhausted
from gg_research.loop.hypothesis import Hypothesis, HypothesisError, parse_hypothesis
from gg_research.loop.state import LoopState
from gg_research.results.ledger import Experiment


class ScriptedProposer:
    name = "scripted"
    wants_passages = False
    passages_k = 0
    checks_novelty = False  # its hypotheses are drawn or written by the researcher, not prose that may repeat

    def __init__(self, script: Path, done_lines: int = 0) -> None:
        self.script = Path(script)
        if not self.script.is_file():
            raise ProposerError(f"{self.script}: no such hypothesis script (JSONL, one hypothesis a line)")
        self.items: list[tuple[int, Hypothesis]] = []
        for no, line in enumerate(self.script.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ProposerError(f"{self.script}:{no}: not JSON: {exc.msg}") from None
            try:
                hyp = parse_hypothesis(data, where=f"{self.script}:{no}")
            except HypothesisError as exc:
                raise ProposerError(str(exc)) from None
            hyp.meta.script_line = no
            self.items.append((no, hyp))
        # Resume: skip what an earlier run of this tag already consumed.
        self._pos = sum(1 for no, _ in self.items if no <= done_lines)

    @staticmethod
    def done_lines(records: list[Experiment]) -> int:
        return max((int(r.proposer_info.get("script_line", 0)) for r in records), default=0)

    def propose(self, state: LoopState, feedback: str | None) -> Hypothesis:
        if self._pos >= len(self.items):
            raise ProposerExhausted(f"{self.script}: all {len(self.items)} hypotheses done")
        _, hyp = self.items[self._pos]
        self._pos += 1
        return hyp.model_copy(deep=True)

    def tell_baseline(self, exp: Experiment) -> None:
        pass

    def tell(self, exp: Experiment) -> None:
        pass
