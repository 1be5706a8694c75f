"""The ledger, and its one reader and writer: `results/experiments.jsonl` and `results/results.tsv`.

experiments.jsonl is append-only. An experiment gets a start line (`"event": "start"`, status
"running") when it begins and an end line (`"event": "end"`) when it ends; lines are merged by
`id`, later keys winning, so a start line with no end line is an experiment that was in flight
when the loop died (resume appends its end line; nothing is ever rewritten). Every line is
flushed and fsynced before the loop goes on, so a kill loses at most the line being written.

A line that cannot be used is not fatal: it becomes a warning naming its line number and the
rest is read, because a morning report with one bad line is worth more than no report.
results.tsv is the human view, one row per ended experiment, its objective columns taken from
the workspace's configured objectives.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

from gg_research.results.errors import LedgerMissingError, LedgerReadError

RESULTS_DIR = "results"
LEDGER_NAME = "experiments.jsonl"
TSV_NAME = "results.tsv"


class Status(StrEnum):
    """Where an experiment stands. A str, so the JSON and the TSV carry its plain value."""

    RUNNING = "running"
    BASELINE = "baseline"
    KEEP = "keep"
    DISCARD = "discard"
    CRASH = "crash"
    INVALID = "invalid"
    INTERRUPTED = "interrupted"

    @property
    def final(self) -> bool:
        """The experiment has ended (an end line was written)."""
        return self is not Status.RUNNING

    @property
    def kept(self) -> bool:
        """Its commit is tagged and stays reachable: a front member and a possible parent."""
        return self in (Status.BASELINE, Status.KEEP)

    @property
    def measured(self) -> bool:
        """Its metrics are trusted (a crash has none; an invalid run failed an integrity check)."""
        return self in (Status.BASELINE, Status.KEEP, Status.DISCARD)


@dataclass
class SeedRun:
    """One seed's run of an experiment: objectives in `metrics`, other measured figures in `aux`."""

    seed: int
    status: str  # the runner's: ok, crash, timeout, ...
    metrics: dict[str, float] = field(default_factory=dict)
    aux: dict[str, float] = field(default_factory=dict)
    run_dir: str = ""
    error: str = ""
    wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "status": self.status, "metrics": self.metrics, "aux": self.aux,
                "run_dir": self.run_dir, "error": self.error, "wall_seconds": self.wall_seconds}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SeedRun:
        return cls(seed=int(raw.get("seed", 0) or 0), status=str(raw.get("status", "ok")),
                   metrics=_numbers(raw.get("metrics")), aux=_numbers(raw.get("aux")),
                   run_dir=str(raw.get("run_dir", "")), error=str(raw.get("error", "")),
                   wall_seconds=_number(raw.get("wall_seconds")) or 0.0)


# Which keys each line carries. Everything the loop knows when a run starts goes on the start
# line, so a killed loop still tells what was in flight.
START_KEYS = ("id", "tag", "parent", "parent_commit", "commit", "title", "hypothesis", "passages",
              "proposer", "proposer_info", "content_hash", "diff", "log", "frozen")
END_KEYS = ("status", "decision", "reason", "seeds", "metrics", "aux", "sigma", "epsilon", "collapse", "frozen")
# Left off a line when empty: they only mean something on some records (e.g. sigma on the baseline).
_OPTIONAL = ("proposer_info", "diff", "sigma", "epsilon", "collapse", "frozen")


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
    proposer_info: dict[str, Any] = field(default_factory=dict)  # e.g. optuna trial, Claude model and usage
    content_hash: str = ""  # of the mutable files after the edits, to refuse a repeated diff
    diff: str = ""  # results/runs/<id>/patch.diff, relative to the workspace
    log: str = ""
    frozen: dict[str, str] | None = None  # fingerprint of the frozen inputs the run was measured against
    decision: str = ""
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

    def seed_values(self, name: str) -> list[float]:
        """Each ok seed's value of one metric (the baseline's spread is the noise)."""
        return [s.metrics[name] for s in self.seeds if s.ok and name in s.metrics]

    def line_json(self, event: str) -> dict[str, Any]:
        """The start or end line of this experiment, as written to experiments.jsonl."""
        keys = START_KEYS if event == "start" else END_KEYS
        out: dict[str, Any] = {"event": event, "id": self.id}
        if event == "start":
            out["status"] = Status.RUNNING.value
            out["started_at"] = _iso(self.started_at)
        else:
            out["ended_at"] = _iso(self.ended_at)
        for key in keys:
            if key == "id":
                continue
            value = getattr(self, key)
            if key in _OPTIONAL and not value:
                continue
            if key == "seeds":
                value = [s.to_json() for s in value]
            out[key] = value.value if isinstance(value, Status) else value
        return out


@dataclass
class Ledger:
    """What a ledger file holds: its experiments in order of first appearance, and warnings."""

    path: Path
    experiments: list[Experiment]
    warnings: list[str]

    def tags(self) -> list[str]:
        seen: list[str] = []
        for exp in self.experiments:
            if exp.tag is not None and exp.tag not in seen:
                seen.append(exp.tag)
        return seen

    def with_tag(self, tag: str | None) -> Ledger:
        if tag is None:
            return self
        return Ledger(self.path, [e for e in self.experiments if e.tag == tag], list(self.warnings))

    def get(self, exp_id: str) -> Experiment | None:
        return next((e for e in self.experiments if e.id == exp_id), None)


class LedgerFile:
    """The one writer (and the loop's reader) of a workspace's experiments.jsonl and results.tsv."""

    def __init__(self, workspace: Path, objectives: Sequence[str] = ("pbqc", "dice")) -> None:
        self.dir = Path(workspace) / RESULTS_DIR
        self.jsonl = self.dir / LEDGER_NAME
        self.tsv = self.dir / TSV_NAME
        self.objectives = tuple(objectives)

    def read(self) -> Ledger:
        """The ledger as it stands; empty when none was written yet."""
        if not self.jsonl.exists():
            return Ledger(self.jsonl, [], [])
        return read_ledger(self.jsonl)

    def next_id(self) -> str:
        nums = [int(e.id[1:]) for e in self.read().experiments if e.id.startswith("e") and e.id[1:].isdigit()]
        return f"e{max(nums, default=0) + 1:04d}"

    def start(self, exp: Experiment) -> None:
        """The start line (its status is always "running", whatever `exp.status` says yet)."""
        exp.started_at = exp.started_at or _now()
        _append(self.jsonl, json.dumps(exp.line_json("start"), default=str) + "\n")

    def end(self, exp: Experiment) -> None:
        """The end line, then the TSV row (both fsynced)."""
        if not exp.status.final:
            raise ValueError(f"{exp.id}: an experiment ends with a final status, not {exp.status}")
        exp.ended_at = _now()
        exp.ended = True
        _append(self.jsonl, json.dumps(exp.line_json("end"), default=str) + "\n")
        self._tsv_row(exp)

    def tsv_columns(self) -> tuple[str, ...]:
        return ("experiment", "commit", *self.objectives, "memory_gb", "img_per_sec", "status", "description")

    def _tsv_row(self, exp: Experiment) -> None:
        if not self.tsv.is_file() or self.tsv.stat().st_size == 0:
            _append(self.tsv, "\t".join(self.tsv_columns()) + "\n")
            columns = self.tsv_columns()
        else:
            # An older file keeps its own columns (e.g. objectives configured since): rows follow its header.
            with open(self.tsv, encoding="utf-8") as fh:
                columns = tuple(fh.readline().rstrip("\n").split("\t"))
        _append(self.tsv, "\t".join(_tsv_cell(col, exp) for col in columns) + "\n")

    def tsv_ids(self) -> list[str]:
        if not self.tsv.is_file():
            return []
        lines = self.tsv.read_text(encoding="utf-8", errors="replace").splitlines()[1:]
        return [ln.split("\t", 1)[0] for ln in lines if ln.strip()]

    def repair_tsv(self) -> list[str]:
        """Append TSV rows for ended experiments that lack one (a kill between the two writes)."""
        have = set(self.tsv_ids())
        added = []
        for exp in self.read().experiments:
            if exp.status.final and exp.id not in have:
                self._tsv_row(exp)
                added.append(exp.id)
        return added


def ledger_path(workspace: Path) -> Path:
    return Path(workspace) / RESULTS_DIR / LEDGER_NAME


def read_workspace_ledger(workspace: Path, tag: str | None = None) -> Ledger:
    return read_ledger(ledger_path(workspace)).with_tag(tag)


def read_ledger(path: Path) -> Ledger:
    """Read and merge a ledger file; bad lines become warnings with their line numbers."""
    path = Path(path)
    if not path.exists():
        raise LedgerMissingError(
            f"{path}: no ledger yet; experiments are recorded there by 'gg-research run' or 'gg-research loop'"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LedgerReadError(f"{path}: cannot read the ledger: {exc.strerror or exc}") from None

    merged: dict[str, tuple[int, dict[str, Any]]] = {}
    warnings: list[str] = []
    where = path.name
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            warnings.append(f"{where} line {number}: not UTF-8 text; line skipped")
            continue
        except json.JSONDecodeError as exc:
            # A loop killed mid-write leaves a truncated last line; say so rather than "bad JSON".
            warnings.append(f"{where} line {number}: not valid JSON ({exc.msg} at column {exc.colno}); line skipped")
            continue
        if not isinstance(obj, dict):
            warnings.append(f"{where} line {number}: a JSON {type(obj).__name__}, not an object; line skipped")
            continue
        exp_id = obj.get("id")
        if not isinstance(exp_id, str) or not exp_id:
            warnings.append(f"{where} line {number}: no experiment id; line skipped")
            continue
        if exp_id in merged:
            merged[exp_id][1].update(obj)
        else:
            merged[exp_id] = (number, dict(obj))
    experiments = [_experiment(exp_id, line, rec, warnings, where) for exp_id, (line, rec) in merged.items()]
    return Ledger(path=path, experiments=experiments, warnings=warnings)


_KNOWN = {f for f in Experiment.__dataclass_fields__} | {"event", "started_at", "ended_at"}


def _experiment(exp_id: str, line: int, rec: dict[str, Any], warnings: list[str], where: str) -> Experiment:
    def warn(text: str) -> None:
        warnings.append(f"{where} line {line}: {exp_id} {text}")

    raw_status = rec.get("status") or Status.RUNNING.value
    try:
        status = Status(raw_status)
    except ValueError:
        warn(f"has unknown status {raw_status!r}; read as invalid")
        status = Status.INVALID
    hyp = rec.get("hypothesis") if isinstance(rec.get("hypothesis"), dict) else {}
    seeds = [SeedRun.from_json(s) for s in rec.get("seeds") or [] if isinstance(s, dict)]
    exp = Experiment(
        id=exp_id, line=line, status=status,
        tag=str(rec["tag"]) if rec.get("tag") is not None else None,
        parent=rec.get("parent") if isinstance(rec.get("parent"), str) else None,
        parent_commit=str(rec.get("parent_commit") or ""), commit=str(rec.get("commit") or ""),
        title=str(rec.get("title") or hyp.get("title") or ""), hypothesis=hyp,
        passages=[p for p in rec.get("passages") or [] if isinstance(p, dict)],
        proposer=str(rec.get("proposer") or ""),
        proposer_info=rec.get("proposer_info") if isinstance(rec.get("proposer_info"), dict) else {},
        content_hash=str(rec.get("content_hash") or ""), diff=str(rec.get("diff") or ""),
        log=str(rec.get("log") or ""), frozen=rec.get("frozen") if isinstance(rec.get("frozen"), dict) else None,
        decision=str(rec.get("decision") or ""), reason=str(rec.get("reason") or ""), seeds=seeds,
        aux=_numbers(rec.get("aux")), sigma=_numbers(rec.get("sigma")), epsilon=_numbers(rec.get("epsilon")),
        collapse=rec.get("collapse") is True,
        ended=rec.get("event") == "end" or status.final,
        extra={k: v for k, v in rec.items() if k not in _KNOWN},
    )
    exp.metrics = _metrics_of(exp, rec.get("metrics"), warn)
    exp.started_at = _time_of(rec, "started_at", warn)
    exp.ended_at = _time_of(rec, "ended_at", warn)
    return exp


def _metrics_of(exp: Experiment, raw: Any, warn) -> dict[str, float]:
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


def _time_of(rec: dict[str, Any], key: str, warn) -> datetime | None:
    raw = rec.get(key)
    if raw is None or raw == "":
        return None
    try:
        when = datetime.fromisoformat(str(raw))
    except ValueError:
        warn(f"{key} is not an ISO 8601 time ({raw!r})")
        return None
    # Naive times are taken as UTC, which is what the loop writes.
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when is not None else None


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _tsv_cell(column: str, exp: Experiment) -> str:
    if column == "experiment":
        return exp.id
    if column == "commit":
        return exp.commit[:7]
    if column == "memory_gb":
        mem = exp.aux.get("peak_memory_mb")
        return f"{mem / 1024:.2f}" if mem is not None else ""
    if column == "img_per_sec":
        return _fmt(exp.aux.get("img_per_sec"), ".1f")
    if column == "status":
        return exp.status.value
    if column == "description":
        # Tabs and newlines would break the TSV.
        return " ".join((exp.title + (f" ({exp.reason})" if exp.reason else "")).split())
    return _fmt(exp.metrics.get(column, exp.aux.get(column)), ".4f")


def _fmt(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else ""
