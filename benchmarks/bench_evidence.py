"""The evidence step's cost per experiment, against the loopback Messages server of the tests.

Ingests the corpus thesis (benchmarks/corpus/thesis-latex.pdf), takes the top
`[knowledge] evidence_candidates` passages for a question, and scores them with the real
Anthropic SDK against tests/loop/fake_anthropic.py (answers at once, or after --model-delay
seconds to stand in for a real model's time per answer). Prints `key: value` lines: the step's
wall seconds (p50 over --runs), requests, and its input and output tokens per experiment as a
real model would count them (estimated from the request text at 3.5 characters a token; output
from the answer's JSON), and the cost at the evidence model's list price.

    python benchmarks/bench_evidence.py [--runs 5] [--model-delay 0.8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

QUESTION = "why was a threshold applied to the U-Net output and how much did it help"
ANSWER = {"score": 7, "summary": "Raising the threshold from 0.5 to 0.7 removed speckle along edges and raised dice by about 30%."}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model-delay", type=float, default=0.0, help="seconds the fake model takes per answer")
    args = parser.parse_args()

    import anthropic

    from gg_research.config import Config, KnowledgeSection
    from gg_research.knowledge.ingest import Ingestor
    from gg_research.loop.evidence import SYSTEM, score_passages
    from gg_research.retrieval.context_block import estimate_tokens
    from gg_research.retrieval.searcher import Searcher
    from tests.loop.fake_anthropic import FakeAnthropic, text_reply

    cfg = Config()
    k: KnowledgeSection = cfg.knowledge
    reply = json.dumps(ANSWER)

    def model(body: dict) -> tuple[int, dict]:
        time.sleep(args.model_delay)
        return 200, text_reply(reply, usage={"input_tokens": estimate_tokens(SYSTEM + body["messages"][0]["content"]),
                                             "output_tokens": estimate_tokens(reply)})

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        (ws / "gg-research.toml").write_text("")
        ingestor = Ingestor(ws, k)
        ingestor.ingest([ROOT / "benchmarks" / "corpus" / "thesis-latex.pdf"])
        passages = Searcher(ws, k, embedder=ingestor.embedder).search(QUESTION, k=k.evidence_candidates)
        usages: list = []
        times = []
        with FakeAnthropic([], responder=model) as api:
            client = anthropic.Anthropic(api_key="sk-ant-bench", base_url=api.url, max_retries=0)
            for _ in range(args.runs):
                usages.clear()
                t = time.perf_counter()
                score_passages(client, k.evidence_model, QUESTION, passages, usages.append)
                times.append(time.perf_counter() - t)
    price = cfg.proposer.price(k.evidence_model)
    tokens_in = sum(u.input_tokens for u in usages)
    tokens_out = sum(u.output_tokens for u in usages)
    print(f"evidence_model: {k.evidence_model}")
    print(f"candidates: {len(passages)}")
    print(f"model_delay_s: {args.model_delay}")
    print(f"step_wall_p50_s: {statistics.median(times):.3f}")
    print(f"requests_per_experiment: {len(usages)}")
    print(f"input_tokens_per_experiment: {tokens_in}")
    print(f"output_tokens_per_experiment: {tokens_out}")
    if price is not None:
        print(f"cost_usd_per_experiment: {(tokens_in * price.input + tokens_out * price.output) / 1e6:.4f}")


if __name__ == "__main__":
    main()
