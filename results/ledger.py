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
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gg_research.results.errors import LedgerMissingError, LedgerReadError
from gg_research.results.record import Experiment, SeedRun, Status, experiment_from_json, now

__all__ = ["Experiment", "Ledger", "LedgerFile", "SeedRun", "Status", "ledger_path", "read_ledger",
           "read_workspace_ledger"]

RESULTS_DIR = "results"
LEDGER_NAME = "experiments.jsonl"
TSV_NAME = "results.tsv"


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
        exp.started_at = exp.started_at or now()
        _append(self.jsonl, json.dumps(exp.line_json("start"), default=str) + "\n")

    def end(self, exp: Experiment) -> None:
        """The end line, then the TSV row (both fsynced)."""
        if not exp.status.final:
            raise ValueError(f"{exp.id}: an experiment ends with a final status, not {exp.status}")
        exp.ended_at = now()
        exp.ended = True
        _append(self.jsonl, json.dumps(exp.line_json("end"), default=str) + "\n")
        self._tsv_row(exp)

    def append_imported(self, experiments: Sequence[Experiment]) -> None:
        """Past experiments read from elsewhere (results.history), each as one ended line and a TSV row."""
        for exp in experiments:
            if exp.imported is None or not exp.status.final:
                raise ValueError(f"{exp.id}: only an ended experiment marked imported is appended as one")
            line = {**exp.line_json("start"), **exp.line_json("end"), "event": "end"}
            _append(self.jsonl, json.dumps(line, default=str) + "\n")
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
    experiments = []
    for exp_id, (line, rec) in merged.items():
        def warn(text: str, line: int = line, exp_id: str = exp_id) -> None:
            warnings.append(f"{where} line {line}: {exp_id} {text}")

        experiments.append(experiment_from_json(exp_id, line, rec, warn))
    return Ledger(path=path, experiments=experiments, warnings=warnings)


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        # A line torn by a kill or a full disk has no newline: end it first, so it stays one bad
        # line of its own instead of swallowing the record written after it.
        if fh.tell() > 0:
            with open(path, "rb") as rd:
                rd.seek(-1, os.SEEK_END)
                torn = rd.read(1) != b"\n"
            if torn:
                fh.write(b"\n")
        fh.write(line.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def _tsv_cell(column: str, exp: Experiment) -> str:
    if column == "experiment":
        return exp.id
    if column == "commit":
        return exp.commit[:7]
    if column == "memory_gb":
        # The harness's name, autoresearch's summary name, or an imported results.tsv's own column.
        mem = exp.aux.get("peak_memory_mb", exp.aux.get("peak_vram_mb"))
        gb = mem / 1024 if mem is not None else exp.aux.get("memory_gb")
        return f"{gb:.2f}" if gb is not None else ""
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
