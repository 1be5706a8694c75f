"""The tables of where experiments come from: [proposer] (Claude, Optuna or a script, its prices
and cap) and [knowledge] (the knowledge base its context is retrieved from)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gg_research.config.section import Section
from gg_research.workspace_map import KNOWLEDGE_STORE


class PriceConfig(Section):
    input: float = Field(ge=0, description="USD per million input tokens.")
    output: float = Field(ge=0, description="USD per million output tokens.")
    cache_read: float = Field(ge=0, description="USD per million tokens read from the prompt cache.")
    cache_write: float = Field(ge=0, description="USD per million tokens written to the prompt cache (5-minute cache).")


def _default_prices() -> dict[str, PriceConfig]:
    # Anthropic's list prices per million tokens when this was written; a workspace overrides them.
    table = {
        "claude-opus-4-5": (5.0, 25.0, 0.50, 6.25),
        "claude-opus-4-1": (15.0, 75.0, 1.50, 18.75),
        "claude-sonnet-4-5": (3.0, 15.0, 0.30, 3.75),
        "claude-sonnet-4": (3.0, 15.0, 0.30, 3.75),
        "claude-haiku-4-5": (1.0, 5.0, 0.10, 1.25),
    }
    return {k: PriceConfig(input=a, output=b, cache_read=c, cache_write=d) for k, (a, b, c, d) in table.items()}


class ProposerSection(Section):
    kind: Literal["auto", "claude", "optuna", "scripted"] = Field(
        "auto", description="auto = claude when ANTHROPIC_API_KEY is set, otherwise optuna."
    )
    sampler: Literal["tpe", "random"] = Field(
        "tpe", description="The offline proposer's sampler: tpe (Optuna's multi-objective TPE) or random (random search "
                           "over the declared space: the yardstick a proposer must beat)."
    )
    model: str = Field("claude-sonnet-4-5", description="Claude model id.")
    max_tokens: int = Field(4096, ge=256, description="Output token limit of one Claude reply.")
    base_url: str = Field("", description="Anthropic API base URL; empty = the SDK default.")
    max_retries: int = Field(5, ge=0, description="Retries with backoff on rate limits, 5xx and timeouts.")
    timeout_s: float = Field(120.0, gt=0, description="Timeout of one API request.")
    search_calls: int = Field(3, ge=0, le=10, description="search_knowledge calls Claude may make before proposing.")
    fallback: Literal["optuna", "wait"] = Field("optuna", description="What to do after repeated API failure.")
    script: str = Field("hypotheses.jsonl", description="JSONL file of hypotheses for the scripted proposer.")
    max_refusals: int = Field(3, ge=0, description="Times a refused hypothesis goes back to the proposer.")
    context_tokens: int = Field(1500, ge=100, description="Token budget of the retrieved-passages block.")
    memory_tokens: int = Field(
        2000, ge=200,
        description="Token budget of the whole-night memory in the prompt (a line per experiment of the tag; the "
                    "oldest are shortened, then summarised).",
    )
    novelty_check: bool = Field(
        True, description="Refuse a Claude hypothesis whose title and rationale are too close to an earlier "
                          "experiment's (before anything is committed or run).",
    )
    novelty_threshold: float = Field(
        0.8, gt=0, le=1,
        description="Cosine similarity (knowledge-base embedder) at or above which a hypothesis counts as a repeat.",
    )
    plateau_after: int = Field(
        6, ge=0, description="Experiments without a keep after which the prompt asks for a different kind of change; 0 = never.",
    )
    max_cost_usd: float = Field(
        0.0, ge=0,
        description="Estimated Claude cost of the tag (USD) at which Claude's part of the night ends (then as "
                    "`fallback` says; wait = stop); 0 = no cap.",
    )
    prices: dict[str, PriceConfig] = Field(
        default_factory=_default_prices,
        description="USD per million tokens by model id (a dated id uses its longest matching prefix); list prices when written, check them.",
    )

    def price(self, model: str | None = None) -> PriceConfig | None:
        """The price of `model` (the configured one by default): an exact id, else the longest prefix."""
        model = model or self.model
        if model in self.prices:
            return self.prices[model]
        matches = [k for k in self.prices if model.startswith(k)]
        return self.prices[max(matches, key=len)] if matches else None

    @model_validator(mode="after")
    def _cap_needs_a_price(self) -> ProposerSection:
        if self.max_cost_usd > 0 and self.price() is None:
            raise ValueError(f"max_cost_usd: no price for model {self.model!r} in proposer.prices, so the cost cannot be estimated")
        return self


class KnowledgeSection(Section):
    store: str = Field(KNOWLEDGE_STORE, description="Chroma persistent folder (relative to the workspace) or http(s)://host:port of a server.")
    collection: str = Field("gg-research", description="Chroma collection name.")
    embedder: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model: a local path, or all-MiniLM-L6-v2 (packaged, offline).",
    )
    chunk_tokens: int = Field(220, ge=32, le=2048, description="Target chunk length in embedder tokens (fits its window).")
    overlap_tokens: int = Field(32, ge=0, description="Tokens shared by neighbouring chunks.")
    batch_size: int = Field(64, ge=1, description="Embedding batch size.")
    fusion: Literal["score", "rrf"] = Field(
        "score", description="How dense and BM25 hits are merged: by their scaled scores, or by reciprocal rank."
    )
    dense_weight: float = Field(0.5, ge=0.0, le=1.0, description="Share of the dense side in score fusion (the rest is BM25's).")
    synonyms: list[list[str]] = Field(
        default_factory=list,
        description="Your own groups of words or phrases that name one thing, e.g. [[\"GG-Net\", \"guided network\"]]: "
                    "a query naming one also searches the others by keyword, at half weight.",
    )
    builtin_synonyms: bool = Field(
        True, description="Also use the built-in glossary of printing and deep-learning terms (hot end = nozzle, ...)."
    )
    evidence: Literal["off", "model"] = Field(
        "off",
        description="model = with the Claude proposer, a small model scores each of the top evidence_candidates passages "
                    "for the state's question and summarises it, in parallel; the prompt carries the best evidence_keep "
                    "with their summaries (its tokens count in the night's cost and cap; a failure falls back to the "
                    "hybrid ranking with a warning). off = the hybrid ranking's top passages.",
    )
    evidence_model: str = Field("claude-haiku-4-5", description="The model of the evidence step (priced by proposer.prices).")
    evidence_candidates: int = Field(16, ge=1, le=40, description="Passages the evidence step scores.")
    evidence_keep: int = Field(5, ge=1, le=20, description="Scored passages the prompt carries, best first.")
    reranker: str = Field(
        "",
        description="A local sentence-transformers CrossEncoder folder (absolute, or relative to the workspace) that "
                    "re-scores the fused candidates before diversification; empty = none.",
    )

    @model_validator(mode="after")
    def _check_synonyms(self) -> KnowledgeSection:
        for i, group in enumerate(self.synonyms):
            if len([w for w in group if w.strip()]) < 2:
                raise ValueError(f"synonyms[{i}]: a group needs at least two non-empty words or phrases, got {group}")
        return self
