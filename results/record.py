"""One experiment of the ledger, typed: its status, its seeds' runs, and how it reads from and
writes to the JSON lines of `results/experiments.jsonl` (see results.ledger for the file).

Reading is lenient: a value of the wrong type is left out with a warning naming the line, so a
ledger written by an older version (or damaged) still loads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, UTC
from typing import Any

from gg_research.results.lifecycle import CAUSES, Cause, LoadSkew, SeedStatus, Status

__all__ = ["Cause", "Experiment", "Lesson", "LoadSkew", "SeedRun", "SeedStatus", "Status", "Usage",
           "experiment_from_json"]


@dataclass
class SeedRun:
    """One seed's run of an experiment: objectives in `metrics`, other measured figures in `aux`."""

    seed: int
    status: SeedStatus
    metrics: dict[str, float] = field(default_factory=dict)
    aux: dict[str, float] = field(default_factory=dict)
    run_dir: str = ""
    error: str = ""
    wall_seconds: float = 0.0
    # The objectives on which this run broke a floor; None: not judged (a ledger older than the mark).
    collapse: list[str] | None = None
    load_skew: LoadSkew | None = None  # a busy machine slowed it: not counted, run again

    def __post_init__(self) -> None:
        self.status = SeedStatus(self.status)  # a plain "ok" given by hand is the same status

    @property
    def ok(self) -> bool:
        """It finished with figures that count (a load-skewed run finished, but does not count)."""
        return self.status is SeedStatus.OK and self.load_skew is None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seed": self.seed, "status": self.status.value, "metrics": self.metrics,
                               "aux": self.aux, "run_dir": self.run_dir, "error": self.error,
                               "wall_seconds": self.wall_seconds}
        if self.collapse is not None:
            out["collapse"] = list(self.collapse)
        if self.load_skew is not None:
            out["load_skew"] = {"detail": self.load_skew.detail, "reference": self.load_skew.reference,
                                "tolerance": self.load_skew.tolerance}
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SeedRun:
        mark = raw.get("collapse")
        status, skewed = SeedStatus.read(str(raw.get("status", "ok")))
        error = str(raw.get("error", ""))
        skew = raw.get("load_skew")
        load = (LoadSkew(str(skew.get("detail") or ""), _numbers(skew.get("reference")), _number(skew.get("tolerance")))
                if isinstance(skew, dict) else LoadSkew(error, {}) if skewed else None)
        return cls(seed=_seed_number(raw.get("seed")), status=status,
                   metrics=_numbers(raw.get("metrics")), aux=_numbers(raw.get("aux")),
                   run_dir=str(raw.get("run_dir", "")), error=error,
                   wall_seconds=_number(raw.get("wall_seconds")) or 0.0,
                   collapse=[str(n) for n in mark if isinstance(n, str)] if isinstance(mark, list) else None,
                   load_skew=load)


@dataclass
class Lesson:
    """What a result taught, as the proposer stated it with its next hypothesis (the journal)."""

    text: str
    about: str = ""  # the id of the experiment whose result it reads ("" when unknown)

    def to_json(self) -> dict[str, Any]:
        return {"about": self.about, "text": self.text}

    @classmethod
    def from_json(cls, raw: Any) -> Lesson | None:
        if isinstance(raw, str):  # a bare text is a lesson about an unnamed result
            return cls(raw) if raw.strip() else None
        if isinstance(raw, dict) and isinstance(raw.get("text"), str) and raw["text"].strip():
            return cls(raw["text"], str(raw.get("about") or ""))
        return None


@dataclass
class Usage:
    """The API tokens one experiment's proposal took (all its requests, refused tries included) and their cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    requests: int = 0
    cost_usd: float | None = None  # None: tokens with no known price
    model: str = ""

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    def __add__(self, other: Usage) -> Usage:
        unpriced = any(u.cost_usd is None and u.tokens for u in (self, other))
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     self.cache_read_tokens + other.cache_read_tokens, self.cache_write_tokens + other.cache_write_tokens,
                     self.requests + other.requests,
                     None if unpriced else (self.cost_usd or 0.0) + (other.cost_usd or 0.0),
                     self.model if self.model == other.model or not other.model else (other.model if not self.model else "mixed"))

    def to_json(self) -> dict[str, Any]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_read_tokens": self.cache_read_tokens, "cache_write_tokens": self.cache_write_tokens,
                "requests": self.requests, "cost_usd": self.cost_usd, "model": self.model}

    @classmethod
    def from_json(cls, raw: Any) -> Usage | None:
        if not isinstance(raw, dict):
            return None
        count = {k: int(_number(raw.get(k)) or 0) for k in
                 ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "requests")}
        return cls(**count, cost_usd=_number(raw.get("cost_usd")), model=str(raw.get("model") or ""))


# Which keys each line carries. Everything the loop knows when a run starts goes on the start
# line, so a killed loop still tells what was in flight.
START_KEYS = ("id", "tag", "parent", "parent_commit", "commit", "title", "hypothesis", "passages",
              "proposer", "proposer_info", "content_hash", "diff", "log", "frozen", "lesson", "usage", "imported")
END_KEYS = ("status", "cause", "reason", "seeds", "metrics", "aux", "sigma", "epsilon", "collapse", "frozen")
# Left off a line when empty: they only mean something on some records (e.g. sigma on the baseline).
_OPTIONAL = ("cause", "proposer_info", "diff", "sigma", "epsilon", "collapse", "frozen", "lesson", "usage", "imported")


@dataclass
class Experiment:
    """One experiment: its start and end lines merged, typed. The loop writes it, everything reads it."""

    id: str
    tag: str | None = None
    status: Status = Status.RUNNING
    parent: str | None = None  # the experiment it started from
    parent_commit: str = ""
    commit: str = ""
    title: str = ""
    hypothesis: dict[str, Any] = field(default_factory=dict)  # title, rationale, expected, citations, edits
    passages: list[dict[str, Any]] = field(default_factory=list)  # what the proposer was shown
    proposer: str = ""
    proposer_info: dict[str, Any] = field(default_factory=dict)  # e.g. the optuna trial, the script line
    content_hash: str = ""  # of the mutable files after the edits, to refuse a repeated diff
    diff: str = ""  # results/runs/<id>/patch.diff, relative to the workspace
    log: str = ""
    frozen: dict[str, str] | None = None  # fingerprint of the frozen inputs the run was measured against
    lesson: Lesson | None = None  # what the previous result taught, stated with this hypothesis
    usage: Usage | None = None  # the proposer's API tokens and estimated cost for this experiment
    # Read from a results.tsv kept before gg-research (results.history): {"source", "line", "commit", ...}.
    # Never re-run or re-judged: memory of what was tried, shown beside the nights that ran here.
    imported: dict[str, Any] | None = None
    cause: Cause | None = None  # why it ended, typed (None: running, or a ledger older than causes)
    reason: str = ""  # why, in one sentence
    seeds: list[SeedRun] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)  # mean over the ok seeds of each objective
    aux: dict[str, float] = field(default_factory=dict)  # mean secondary figures (img/s, memory, ...)
    sigma: dict[str, float] = field(default_factory=dict)  # baseline: each objective's seed noise
    epsilon: dict[str, float] = field(default_factory=dict)  # baseline: the noise margin decisions use
    collapse: bool = False  # a floor broke: shown under "what collapsed", never as a near miss
    started_at: datetime | None = None
    ended_at: datetime | None = None
    ended: bool = False  # an end line was seen
    line: int = 0  # line number of its first line, for messages
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as read

    def has_metrics(self, names: Sequence[str]) -> bool:
        return all(name in self.metrics for name in names)

    def is_measured(self, names: Sequence[str]) -> bool:
        """Trusted values for every objective: may be ranked, plotted as a point, be best."""
        return self.status.measured and self.has_metrics(names)

    def line_json(self, event: str) -> dict[str, Any]:
        """The start or end line of this experiment, as written to experiments.jsonl."""
        keys = START_KEYS if event == "start" else END_KEYS
        out: dict[str, Any] = {"event": event, "id": self.id}
        if event == "start":
            out["status"] = Status.RUNNING.value
            out["started_at"] = iso(self.started_at)
        else:
            out["ended_at"] = iso(self.ended_at)
        for key in keys:
            if key == "id":
                continue
            value = getattr(self, key)
            if key in _OPTIONAL and not value:
                continue
            if key == "seeds":
                value = [s.to_json() for s in value]
            elif isinstance(value, (Lesson, Usage)):
                value = value.to_json()
            out[key] = value.value if isinstance(value, (Status, Cause)) else value
        return out


# "decision": the fate's word in ledgers before the typed cause; read by `_status_of`, not kept.
_KNOWN = set(Experiment.__dataclass_fields__) | {"event", "started_at", "ended_at", "decision"}


def experiment_from_json(exp_id: str, line: int, rec: dict[str, Any], warn: Callable[[str], None]) -> Experiment:
    """An experiment from its merged lines; `warn` receives what had to be left out."""

    status = _status_of(rec, warn)
    # A field of the wrong shape (a damaged or hand-edited line) is read as empty, and said.
    for key, kind in _SHAPES.items():
        if rec.get(key) is not None and not isinstance(rec[key], kind):
            warn(f"{key} is a JSON {type(rec[key]).__name__}, not {_KIND_NAMES[kind]}; read as empty")
    hyp = _object(rec.get("hypothesis"))
    seeds = [SeedRun.from_json(s) for s in _list(rec.get("seeds")) if isinstance(s, dict)]
    exp = Experiment(
        id=exp_id, line=line, status=status,
        tag=str(rec["tag"]) if rec.get("tag") is not None else None,
        parent=rec.get("parent") if isinstance(rec.get("parent"), str) else None,
        parent_commit=str(rec.get("parent_commit") or ""), commit=str(rec.get("commit") or ""),
        title=str(rec.get("title") or hyp.get("title") or ""), hypothesis=hyp,
        passages=[p for p in _list(rec.get("passages")) if isinstance(p, dict)],
        proposer=str(rec.get("proposer") or ""),
        proposer_info=_object(rec.get("proposer_info")),
        content_hash=str(rec.get("content_hash") or ""), diff=str(rec.get("diff") or ""),
        log=str(rec.get("log") or ""), frozen=rec.get("frozen") if isinstance(rec.get("frozen"), dict) else None,
        cause=_cause_of(rec.get("cause")), reason=str(rec.get("reason") or ""), seeds=seeds,
        aux=_numbers(rec.get("aux")), sigma=_numbers(rec.get("sigma")), epsilon=_numbers(rec.get("epsilon")),
        collapse=rec.get("collapse") is True,
        lesson=Lesson.from_json(rec.get("lesson")), usage=Usage.from_json(rec.get("usage")),
        imported=rec.get("imported") if isinstance(rec.get("imported"), dict) else None,
        ended=rec.get("event") == "end" or status.final,
        extra={k: v for k, v in rec.items() if k not in _KNOWN},
    )
    if exp.status.final and exp.cause is not None and exp.cause not in CAUSES[exp.status]:
        # A fate the lifecycle never gives (a keep caused by a crash): a hand-written line, not a judged run.
        warn(f"has status {exp.status.value!r} with cause {exp.cause.value!r}, which no run is given; read as invalid")
        exp.status = Status.INVALID
    exp.metrics = _metrics_of(exp, rec.get("metrics"), warn)
    exp.started_at = _time_of(rec, "started_at", warn)
    exp.ended_at = _time_of(rec, "ended_at", warn)
    return exp


def _status_of(rec: dict[str, Any], warn: Callable[[str], None]) -> Status:
    """The record's status; a ledger written before refusals had a state of their own spells one
    as status "invalid" with decision "refused"."""
    raw = rec.get("status") or Status.RUNNING.value
    try:
        status = Status(raw)
    except ValueError:
        warn(f"has unknown status {raw!r}; read as invalid")
        return Status.INVALID
    return Status.REFUSED if status is Status.INVALID and rec.get("decision") == "refused" else status


def _cause_of(raw: Any) -> Cause | None:
    try:
        return Cause(raw) if isinstance(raw, str) else None
    except ValueError:  # a cause a newer version added: the status and reason still say it
        return None


_SHAPES: dict[str, type] = {"hypothesis": dict, "seeds": list, "passages": list, "proposer_info": dict,
                            "aux": dict, "sigma": dict, "epsilon": dict, "frozen": dict, "imported": dict}
_KIND_NAMES: dict[type, str] = {dict: "an object", list: "a list"}


def _seed_number(raw: Any) -> int:
    """A seed as the ledger spells it; a value of another shape (a hand edit) reads as 0."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        return 0
    return int(raw)


def _object(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _list(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else []


def _metrics_of(exp: Experiment, raw: Any, warn: Callable[[str], None]) -> dict[str, float]:
    """The mean metrics, or the mean of the ok seeds when the record carries only those."""
    values: dict[str, float] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            number = _number(value)
            if number is not None:
                values[name] = number
            elif value is not None and not (isinstance(value, float) and math.isnan(value) or _is_inf(value)):
                # A crashed run may record NaN on purpose: that is missing, not malformed.
                warn(f"metric {name!r} is not a number ({value!r})")
    elif raw is not None:
        warn("metrics is not an object")
    if values:
        return values
    sums: dict[str, list[float]] = {}
    for seed in exp.seeds:
        if seed.ok:
            for name, value in seed.metrics.items():
                sums.setdefault(name, []).append(value)
    return {name: sum(v) / len(v) for name, v in sums.items()}


def _is_inf(value: Any) -> bool:
    return isinstance(value, float) and math.isinf(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _numbers(raw: Any) -> dict[str, float]:
    """The finite numbers of a JSON object (NaN and inf are left out so the JSONL stays strict)."""
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in ((k, _number(v)) for k, v in raw.items()) if v is not None}


def _time_of(rec: dict[str, Any], key: str, warn: Callable[[str], None]) -> datetime | None:
    raw = rec.get(key)
    if raw is None or raw == "":
        return None
    try:
        when = datetime.fromisoformat(str(raw))
    except ValueError:
        warn(f"{key} is not an ISO 8601 time ({raw!r})")
        return None
    # Naive times are taken as UTC, which is what the loop writes.
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when is not None else None
