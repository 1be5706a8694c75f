"""The Hypothesis a proposer returns (ARCHITECTURE.md: A hypothesis), validated with pydantic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gg_research.loop.errors import HypothesisError as HypothesisError  # raised here; its home is loop.errors
from gg_research.results.record import Usage


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="Workspace-relative path of a mutable file.")
    search: str = Field(min_length=1, description="Text that occurs exactly once in the file.")
    replace: str = Field(description="Text that replaces it.")


@dataclass
class ProposalMeta:
    """What a proposer notes beside a hypothesis; the ledger keeps it (results.record: proposer, passages,
    usage, lesson's subject, and the rest as proposer_info)."""

    proposer: str | None = None  # who wrote it, when not the proposer asked (Optuna in Claude's stead, an agent)
    passages: list[dict[str, Any]] = field(default_factory=list)  # what it read beyond what it was shown
    usage: Usage | None = None  # the API tokens its proposal took
    lesson_about: str = ""  # the experiment whose result its lesson reads
    trial: int | None = None  # the Optuna trial it is
    script_line: int | None = None  # the line of the script it came from
    evidence: list[str] | None = None  # the chunk ids its prompt carried, best first
    client: dict[str, Any] = field(default_factory=dict)  # what an agent's client said of itself (via, client, ...)

    def proposer_info(self) -> dict[str, Any]:
        """What the ledger keeps as `proposer_info` (the keys ledgers have always carried)."""
        known = {"trial": self.trial, "script_line": self.script_line, "evidence": self.evidence}
        return {**self.client, **{k: v for k, v in known.items() if v is not None}}


class Hypothesis(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="One line: what changes (the commit message).")
    rationale: str = Field("", description="Why it should help, citing the passages by key.")
    expected: dict[str, Literal["up", "down", "same"]] = Field(
        default_factory=dict, description="Expected effect on each objective."
    )
    citations: list[str] = Field(default_factory=list, description="Chunk ids of the passages it rests on.")
    parent: str | None = Field(None, description="Experiment id (a kept one) to start from; empty = the latest kept.")
    edits: list[Edit] = Field(min_length=1, description="Search/replace edits of mutable files, applied in order.")
    lesson: str = Field("", max_length=2000, description=(
        "What the previous experiment's result taught, in one to three sentences, citing by key the passages "
        "that held up or did not; empty when there is no result yet."))
    # Proposer bookkeeping (e.g. the Optuna trial number); never shown to a model.
    meta: ProposalMeta = Field(default_factory=ProposalMeta, exclude=True)

    @field_validator("title")
    @classmethod
    def _one_line(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("title is empty")
        return v

    def to_record(self) -> dict[str, Any]:
        # The lesson is about the previous result, not this hypothesis: the ledger keeps it apart.
        return self.model_dump(mode="json", exclude={"lesson"})


def parse_hypothesis(data: Any, where: str = "hypothesis") -> Hypothesis:
    """Validate raw proposer output; raise HypothesisError naming the first problem."""
    try:
        return Hypothesis.model_validate(data)
    except ValidationError as exc:
        raise HypothesisError(f"{where}: {describe_validation(exc)}") from None


def describe_validation(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{loc}: {msg}{more}"


def tool_input_schema() -> dict[str, Any]:
    """JSON schema of the propose_experiment tool: the hypothesis without bookkeeping."""
    schema = Hypothesis.model_json_schema()
    schema.get("properties", {}).pop("meta", None)
    # Inline the Edit definition: a flat schema is the safest input for tool-use APIs.
    edit = schema.pop("$defs", {}).get("Edit")
    if edit is not None:
        schema["properties"]["edits"]["items"] = edit
    return schema
