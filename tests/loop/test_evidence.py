"""The evidence step against the loopback Messages server: scores and summaries in the prompt,
its tokens in the ledger, and the hybrid ranking when it fails."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.loop.fake_anthropic import FakeAnthropic, text_reply, tool_use
from tests.loop.fakes import records
from tests.loop.test_claude import EXTRA, GOOD, THESIS, _loop, _texts, ws  # noqa: F401

EVIDENCE_MODEL = "claude-haiku-4-5"
EVIDENCE_USAGE = {"input_tokens": 300, "output_tokens": 40}


def _evidence_on(ws: Path, keep: int = 1) -> None:  # noqa: F811
    toml = ws / "gg-research.toml"
    toml.write_text(toml.read_text() + f'\n[knowledge]\nevidence = "model"\nevidence_keep = {keep}\n')
    subprocess.run(["git", "-C", str(ws), "commit", "-qam", "evidence on"], check=True)


def judge(body: dict) -> tuple[int, dict] | None:
    """The small model: 9 for the passage on joint training, 2 for anything else."""
    if body["model"] != EVIDENCE_MODEL:
        return None
    text = body["messages"][0]["content"]
    score = 9 if "Joint training" in text else 2
    summary = "Joint training from the first epoch avoids the collapse." if score == 9 else "About loss weights only."
    return 200, text_reply(json.dumps({"score": score, "summary": summary}), usage=EVIDENCE_USAGE)


def _proposals() -> list:
    return [(200, tool_use("propose_experiment", GOOD, "tu_1"))]


def test_the_prompt_carries_the_best_scored_passages_with_summaries_and_the_ledger_their_tokens(ws: Path) -> None:  # noqa: F811
    _evidence_on(ws, keep=1)
    with FakeAnthropic(_proposals(), responder=judge) as api:
        _, code, out = _loop(ws, api.url)
    assert code == 0, out
    evidence = [r for r in api.requests if r["model"] == EVIDENCE_MODEL]
    main = [r for r in api.requests if r["model"] != EVIDENCE_MODEL]
    # Both candidates scored, each in a request of its own, naming the document by its file name.
    assert len(evidence) == 2 and all("thesis.pdf" in r["messages"][0]["content"] or "paper.pdf" in r["messages"][0]["content"] for r in evidence)
    prompt = _texts(main[0])
    assert "[doc1:7] thesis.pdf pp. 42-43" in prompt and "Relevance 9/10. Summary: Joint training from the first epoch" in prompt
    assert EXTRA.text not in prompt  # scored 2, below the one kept
    rec = records(ws)[-1]
    assert rec.proposer_info["evidence"] == ["doc1:7"]
    # The evidence tokens are in the experiment's usage, priced at the small model's price, beside the proposer's.
    usage = rec.usage
    assert usage.requests == 3 and usage.input_tokens == 2 * 300 + 10 and usage.output_tokens == 2 * 40 + 5
    haiku = 2 * (300 * 1.0 + 40 * 5.0) / 1e6
    assert usage.cost_usd is not None and usage.cost_usd > haiku


SERVER_ERROR = (500, {"type": "error", "error": {"type": "api_error", "message": "internal error"}})


@pytest.mark.parametrize("failure", [(200, text_reply("I think this passage is quite relevant.")), SERVER_ERROR],
                         ids=["not-the-json-asked-for", "server-error"])
def test_a_failing_evidence_model_falls_back_to_the_hybrid_ranking_with_a_warning(ws: Path, failure) -> None:  # noqa: F811
    _evidence_on(ws, keep=1)

    def broken(body: dict) -> tuple[int, dict] | None:
        return failure if body["model"] == EVIDENCE_MODEL else None

    with FakeAnthropic(_proposals(), responder=broken) as api:
        _, code, out = _loop(ws, api.url)
    assert code == 0, out
    assert "the evidence step failed" in out and "hybrid ranking" in " ".join(out.split())
    prompt = _texts([r for r in api.requests if r["model"] != EVIDENCE_MODEL][0])
    assert THESIS.text in prompt and EXTRA.text in prompt and "Relevance" not in prompt
    assert "evidence" not in records(ws)[-1].proposer_info


def test_off_by_default_no_request_goes_to_the_evidence_model(ws: Path) -> None:  # noqa: F811
    with FakeAnthropic(_proposals(), responder=judge) as api:
        _, code, out = _loop(ws, api.url)
    assert code == 0, out
    assert [r["model"] for r in api.requests] and EVIDENCE_MODEL not in {r["model"] for r in api.requests}
