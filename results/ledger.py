"""Reading `results/experiments.jsonl` into one merged record per experiment.

The ledger is append-only (see `results.schema`): a start line and an end line per
experiment, merged by id with later keys winning. A line that cannot be used is not fatal:
it becomes a warning naming its line number, and the rest of the ledger is still read,
because a morning report with one bad line is worth more than no report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from results.errors import LedgerMissingError, LedgerReadError
from results.schema import FINAL_STATUSES, LEDGER_NAME

KNOWN_STATUSES = ("running", *FINAL_STATUSES)
# Statuses whose metrics are trusted: a crash has none, an invalid run failed an integrity check.
MEASURED_STATUSES = ("baseline", "keep", "discard")


@dataclass
class Experiment:
    """One experiment, its start and end lines merged."""

    id: str
    line: int  # line number of its first line, for messages
    record: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def status(self) -> str:
        return str(self.record.get("status") or "running")

    @property
    def ended(self) -> bool:
        """Whether an end line was seen (a start line alone means it was in flight)."""
        return self.record.get("event") == "end" or self.status != "running"

    @property
    def title(self) -> str:
        hyp = self.hypothesis
        return str(self.record.get("title") or hyp.get("title") or "")

    @property
    def hypothesis(self) -> dict[str, Any]:
        hyp = self.record.get("hypothesis")
        return hyp if isinstance(hyp, dict) else {}

    @property
    def commit(self) -> str:
        return str(self.record.get("commit") or "")

    @property
    def tag(self) -> str | None:
        tag = self.record.get("tag")
        return str(tag) if tag is not None else None

    def has_metrics(self, names: list[str]) -> bool:
        return all(name in self.metrics for name in names)

    def is_measured(self, names: list[str]) -> bool:
        """Trusted values for every objective: may be ranked, plotted as a point, be best."""
        return self.status in MEASURED_STATUSES and self.has_metrics(names)


@dataclass
class Ledger:
    path: Path
    experiments: list[Experiment]
    warnings: list[str]

    def tags(self) -> list[str]:
        seen: list[str] = []
        for exp in self.experiments:
            if exp.tag is not None and exp.tag not in seen:
                seen.append(exp.tag)
        return seen

    def with_tag(self, tag: str | None) -> "Ledger":
        if tag is None:
            return self
        return Ledger(self.path, [e for e in self.experiments if e.tag == tag], list(self.warnings))


def ledger_path(workspace: Path) -> Path:
    return Path(workspace) / "results" / LEDGER_NAME


def read_ledger(path: Path) -> Ledger:
    """Read and merge a ledger file; bad lines become warnings with their line numbers."""
    path = Path(path)
    if not path.exists():
        raise LedgerMissingError(
            f"{path}: no ledger yet; experiments are recorded there by 'gg-research run' or 'gg-research loop'"
        )
    try:
        data = path.read_bytes()
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise LedgerReadError(f"{path}: cannot read the ledger: {exc.strerror or exc}") from None

    merged: dict[str, Experiment] = {}
    warnings: list[str] = []
    where = path.name
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            warnings.append(f"{where} line {number}: not UTF-8 text; line skipped")
            continue
        try:
            obj = json.loads(text)
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
        status = obj.get("status")
        if status is not None and status not in KNOWN_STATUSES:
            warnings.append(f"{where} line {number}: {exp_id} has unknown status {status!r}")
        if exp_id in merged:
            merged[exp_id].record.update(obj)
        else:
            merged[exp_id] = Experiment(id=exp_id, line=number, record=dict(obj))

    experiments = list(merged.values())
    for exp in experiments:
        exp.metrics = _metrics_of(exp, warnings, where)
        exp.started_at = _time_of(exp, "started_at", warnings, where)
        exp.ended_at = _time_of(exp, "ended_at", warnings, where)
    return Ledger(path=path, experiments=experiments, warnings=warnings)


def read_workspace_ledger(workspace: Path, tag: str | None = None) -> Ledger:
    return read_ledger(ledger_path(workspace)).with_tag(tag)


def _metrics_of(exp: Experiment, warnings: list[str], where: str) -> dict[str, float]:
    """The mean metrics, or the mean of the ok seeds when the record carries only those."""
    raw = exp.record.get("metrics")
    values: dict[str, float] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            number = _number(value)
            if number is None and value is not None and not _is_nonfinite(value):
                warnings.append(f"{where} line {exp.line}: {exp.id} metric {name!r} is not a number ({value!r})")
            elif number is not None:
                values[name] = number
    elif raw is not None:
        warnings.append(f"{where} line {exp.line}: {exp.id} metrics is not an object")
    if values:
        return values
    seeds = exp.record.get("seeds")
    if isinstance(seeds, list):
        sums: dict[str, list[float]] = {}
        for seed in seeds:
            if not isinstance(seed, dict) or seed.get("status", "ok") != "ok":
                continue
            for name, value in (seed.get("metrics") or {}).items():
                number = _number(value)
                if number is not None:
                    sums.setdefault(name, []).append(number)
        values = {name: sum(v) / len(v) for name, v in sums.items()}
    return values


def seed_values(exp: Experiment, name: str) -> list[float]:
    """Each ok seed's value of one metric (used to measure noise on the baseline)."""
    out: list[float] = []
    seeds = exp.record.get("seeds")
    if isinstance(seeds, list):
        for seed in seeds:
            if isinstance(seed, dict) and seed.get("status", "ok") == "ok":
                number = _number((seed.get("metrics") or {}).get(name))
                if number is not None:
                    out.append(number)
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _is_nonfinite(value: Any) -> bool:
    # A crashed run may record NaN on purpose; that is missing, not malformed.
    return isinstance(value, float) and not math.isfinite(value)


def _time_of(exp: Experiment, key: str, warnings: list[str], where: str) -> datetime | None:
    raw = exp.record.get(key)
    if raw is None or raw == "":
        return None
    try:
        when = datetime.fromisoformat(str(raw))
    except ValueError:
        warnings.append(f"{where} line {exp.line}: {exp.id} {key} is not an ISO 8601 time ({raw!r})")
        return None
    # Naive times are taken as UTC, which is what the loop writes.
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
