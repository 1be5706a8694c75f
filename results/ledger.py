"""The ledger, and its one reader and writer: `results/experiments.jsonl` and `results/results.tsv`.

experiments.jsonl is append-only. An experiment gets a start line (`"event": "start"`, status
"running") when it begins and an end line (`"event": "end"`) when it ends; lines are merged by
`id`, later keys winning, so a start line with no end line is an experiment that was in flight
when the loop died (resume appends its end line; nothing is ever rewritten). An experiment ends
once: a line for it after its end line is ignored with a warning, and a fate the lifecycle never
gives (a keep caused by a crash) reads as invalid, so a hand-written line cannot rejudge a run.
Every line is flushed and fsynced before the loop goes on, so a kill loses at most the line being
written.

A line that cannot be used is not fatal: it becomes a warning naming its line number and the
rest is read, because a morning report with one bad line is worth more than no report.
results.tsv is the human view, one row per ended experiment, its objective columns taken from
the workspace's configured objectives.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gg_research.results.errors import LedgerMissingError, LedgerReadError
from gg_research.workspace_map import WorkspaceMap
from gg_research.results.record import Experiment, SeedRun, Status, experiment_from_json, now

__all__ = ["Experiment", "Ledger", "LedgerFile", "SeedRun", "Status", "ledger_path", "read_ledger",
           "read_workspace_ledger"]



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
        layout = WorkspaceMap(Path(workspace))
        self.dir = layout.results
        self.jsonl = layout.ledger
        self.tsv = layout.tsv
        self.objectives = tuple(objectives)

    def read(self) -> Ledger:
        """The ledger as it stands; empty when none was written yet.

        The loop asks many times an experiment: the file's lines are parsed once, as they are
        appended, and each call gets experiments of its own to change (the same as `read_ledger`).
        """
        if not self.jsonl.exists():
            return Ledger(self.jsonl, [], [])
        return _read_indexed(self.jsonl)

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
    return WorkspaceMap(Path(workspace)).ledger


def read_workspace_ledger(workspace: Path, tag: str | None = None) -> Ledger:
    return read_ledger(ledger_path(workspace)).with_tag(tag)


def read_ledger(path: Path) -> Ledger:
    """Read and merge a ledger file; bad lines become warnings with their line numbers."""
    path = Path(path)
    if not path.exists():
        raise LedgerMissingError(
            f"{path}: no ledger yet; experiments are recorded there by 'gg-research loop' or 'gg-research step'"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LedgerReadError(f"{path}: cannot read the ledger: {exc.strerror or exc}") from None
    index = _Index(path.name)
    index.add(data, first_line=1)
    return Ledger(path=path, experiments=index.experiments(), warnings=index.warnings())


class _Index:
    """A ledger's lines parsed and merged by id, growing by appended bytes; the one parser of the file.

    Each experiment is built from its merged lines once, and again only when a new line names it.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.merged: dict[str, tuple[int, dict[str, Any]]] = {}
        self.line_warnings: list[str] = []
        self.ended: set[str] = set()
        self.built: dict[str, tuple[Experiment, list[str]]] = {}

    def add(self, data: bytes, first_line: int) -> int:
        """Parse `data` (whole lines) numbered from `first_line`; the next line's number."""
        lines = data.splitlines()
        for number, raw in enumerate(lines, start=first_line):
            exp_id = self._merge(number, raw)
            if exp_id is not None:
                self.built.pop(exp_id, None)
        return first_line + len(lines)

    def _merge(self, number: int, raw: bytes) -> str | None:
        if not raw.strip():
            return None
        where = self.where
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self.line_warnings.append(f"{where} line {number}: not UTF-8 text; line skipped")
            return None
        except json.JSONDecodeError as exc:
            # A loop killed mid-write leaves a truncated last line; say so rather than "bad JSON".
            self.line_warnings.append(
                f"{where} line {number}: not valid JSON ({exc.msg} at column {exc.colno}); line skipped")
            return None
        if not isinstance(obj, dict):
            self.line_warnings.append(f"{where} line {number}: a JSON {type(obj).__name__}, not an object; line skipped")
            return None
        exp_id = obj.get("id")
        if not isinstance(exp_id, str) or not exp_id:
            self.line_warnings.append(f"{where} line {number}: no experiment id; line skipped")
            return None
        if exp_id in self.ended:
            # An experiment ends once (results.lifecycle): a later line would rewrite its fate.
            self.line_warnings.append(f"{where} line {number}: {exp_id} had ended already; line ignored")
            return None
        if obj.get("event") == "end":
            self.ended.add(exp_id)
        if exp_id in self.merged:
            self.merged[exp_id][1].update(obj)
        else:
            self.merged[exp_id] = (number, dict(obj))
        return exp_id

    def _build(self, exp_id: str) -> tuple[Experiment, list[str]]:
        if exp_id not in self.built:
            line, rec = self.merged[exp_id]
            notes: list[str] = []
            exp = experiment_from_json(exp_id, line, rec,
                                       lambda text: notes.append(f"{self.where} line {line}: {exp_id} {text}"))
            self.built[exp_id] = (exp, notes)
        return self.built[exp_id]

    def experiments(self) -> list[Experiment]:
        return [self._build(exp_id)[0] for exp_id in self.merged]

    def warnings(self) -> list[str]:
        return [*self.line_warnings, *(note for exp_id in self.merged for note in self._build(exp_id)[1])]


@dataclass
class _Snapshot:
    """What `LedgerFile.read` last saw of its file: the index, where appended bytes start, and a
    digest of the bytes before that, to tell an append from any other change."""

    key: tuple[int, ...]
    index: _Index
    offset: int  # the byte just past the last whole line indexed
    next_line: int
    digest: Any  # a hashlib object over the bytes before `offset`
    frozen: bytes  # the experiments pickled: each read unpickles its own copies
    racy: bool  # stamped too close to when it was read: an equal stat key proves nothing yet


_SNAPSHOTS: dict[Path, _Snapshot] = {}
_SNAPSHOTS_LOCK = threading.Lock()
# A write within a file system's timestamp tick of the last one can leave size, mtime and ctime
# as they were (git calls this a racy entry): a snapshot stamped this recently is checked by content.
# Ticks are a few ms on Linux's own file systems; a stamp in whole seconds means a coarse one.
_RACY_NS = 100_000_000
_RACY_COARSE_NS = 2_000_000_000


def _stat_key(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_indexed(path: Path) -> Ledger:
    """The ledger at `path`, parsing only what was appended since the last read of it.

    An unchanged stat key (device, inode, size, mtime, ctime) is the same file. Otherwise the file
    is read and the bytes indexed before are compared by digest: equal, only what follows is
    parsed; else (a file edited in place, truncated, replaced, saved by rename) it is indexed
    whole. A torn last line (no newline yet) is never indexed: the file is read whole each time,
    so it reads as `read_ledger` says.
    """
    try:
        with open(path, "rb") as fh:
            key = _stat_key(os.fstat(fh.fileno()))
            with _SNAPSHOTS_LOCK:
                snap = _SNAPSHOTS.get(path)
                if snap is None or snap.key != key or snap.racy:
                    snap = _advance(fh, snap, key)
                    if snap is None:
                        _SNAPSHOTS.pop(path, None)
                        return read_ledger(path)
                    _SNAPSHOTS[path] = snap
                frozen, warnings = snap.frozen, snap.index.warnings()
    except FileNotFoundError:
        raise LedgerMissingError(f"{path}: no ledger yet") from None
    except OSError as exc:
        raise LedgerReadError(f"{path}: cannot read the ledger: {exc.strerror or exc}") from None
    return Ledger(path=path, experiments=pickle.loads(frozen), warnings=warnings)


def _advance(fh: BinaryIO, snap: _Snapshot | None, key: tuple[int, ...]) -> _Snapshot | None:
    """`snap` brought up to the file's bytes (a new one when they are not `snap`'s plus more);
    None when the file ends in a torn line."""
    data = fh.read()
    stamped = max(key[3], key[4])
    racy = time.time_ns() - stamped < (_RACY_COARSE_NS if stamped % 1_000_000_000 == 0 else _RACY_NS)
    if data and not data.endswith(b"\n"):
        return None
    if snap is not None and len(data) >= snap.offset and _digest(data[:snap.offset]) == snap.digest.digest():
        if len(data) == snap.offset:  # the same bytes: only the stat changed, or the check was racy
            snap.key, snap.racy = key, racy
            return snap
        new = data[snap.offset:]
        snap.next_line = snap.index.add(new, snap.next_line)
        snap.digest.update(new)
    else:
        index = _Index(Path(str(fh.name)).name)
        snap = _Snapshot(key, index, 0, index.add(data, 1), hashlib.blake2b(data, digest_size=16), b"", racy)
    snap.offset, snap.key, snap.racy = len(data), key, racy
    snap.frozen = pickle.dumps(snap.index.experiments(), protocol=pickle.HIGHEST_PROTOCOL)
    return snap


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


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
