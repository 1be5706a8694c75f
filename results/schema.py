"""The ledger format: `results/experiments.jsonl` and `results/results.tsv`.

The loop writes it (`loop.ledger`), the report reads it (`results.ledger`). Both sides
follow this module.

experiments.jsonl is append-only. An experiment gets one line with `"event": "start"`
when it begins (status "running") and one line with `"event": "end"` when it ends; a
reader merges lines by `id`, later lines overriding earlier keys, so a start line with no
end line is an experiment that was in flight when the loop died. Resume appends an end
line with status "crash" for it; nothing is ever rewritten.
"""

from __future__ import annotations

from typing import Literal, TypedDict

LEDGER_NAME = "experiments.jsonl"
TSV_NAME = "results.tsv"
TSV_COLUMNS = ("experiment", "commit", "pbqc", "dice", "memory_gb", "img_per_sec", "status", "description")

Status = Literal["running", "baseline", "keep", "discard", "crash", "invalid", "interrupted"]
FINAL_STATUSES = ("baseline", "keep", "discard", "crash", "invalid", "interrupted")
# Experiments whose commit stays reachable and may sit on the Pareto front.
CHECKOUTABLE_STATUSES = ("baseline", "keep")


class Citation(TypedDict, total=False):
    chunk_id: str  # "<doc id>:<chunk index>"
    source: str  # file name as ingested
    page: int  # first page of the chunk (1-based)
    page_end: int
    section: str  # e.g. "3.3.4 Training schedule"
    text: str  # the passage text
    score: float


class Edit(TypedDict):
    path: str
    search: str
    replace: str


class Hypothesis(TypedDict, total=False):
    title: str
    rationale: str
    expected: dict[str, Literal["up", "down", "same"]]
    citations: list[Citation]  # resolved from chunk ids to full citations by the loop
    parent: str | None  # experiment id this one starts from
    edits: list[Edit]


class SeedRun(TypedDict, total=False):
    seed: int
    status: Literal["ok", "crash", "timeout"]
    metrics: dict[str, float]  # objective name -> value
    aux: dict[str, float]  # img_per_sec, peak_memory_mb, num_params_M, training_seconds, ...
    run_dir: str


class Record(TypedDict, total=False):
    event: Literal["start", "end"]
    id: str  # e0001, e0002, ...
    tag: str
    status: Status
    parent: str | None  # parent experiment id
    parent_commit: str
    commit: str
    title: str
    hypothesis: Hypothesis
    passages: list[Citation]  # what the proposer was shown
    proposer: str
    metrics: dict[str, float]  # mean over seeds of each objective
    seeds: list[SeedRun]
    aux: dict[str, float]  # mean secondary figures
    decision: str  # keep / discard / crash / invalid / baseline
    reason: str  # why, in one sentence
    diff: str  # path relative to the workspace, results/runs/<id>/patch.diff
    log: str  # results/runs/<id>/run.log
    started_at: str  # ISO 8601 UTC
    ended_at: str
    # Written by the loop for its own bookkeeping (the report reads epsilon and collapse):
    sigma: dict[str, float]  # baseline only: each objective's standard deviation over the seeds
    epsilon: dict[str, float]  # baseline only: the noise margin each later decision used
    collapse: bool  # a floor broke: shown under "what collapsed", never as a near miss
    content_hash: str  # hash of the mutable files after the edits, to refuse a repeated diff
    proposer_info: dict  # what the proposer adds (e.g. optuna trial number, Claude model and usage)
    frozen: dict[str, str]  # fingerprint of the frozen inputs the run was measured against
