"""Writes the ledger of results/schema.py: start/end lines in experiments.jsonl and TSV rows.

Every line is flushed and fsynced before the loop goes on, so a kill -9 or a power cut
loses at most the line being written, and a reader merging by id sees what was in flight.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from results.schema import FINAL_STATUSES, LEDGER_NAME, TSV_COLUMNS, TSV_NAME

RESULTS_DIR = "results"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _fmt(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) else ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())  # tabs and newlines would break the TSV


class Ledger:
    def __init__(self, workspace: Path) -> None:
        self.dir = Path(workspace) / RESULTS_DIR
        self.jsonl = self.dir / LEDGER_NAME
        self.tsv = self.dir / TSV_NAME

    def read(self) -> list[dict[str, Any]]:
        """Records merged by id, in order of first appearance; a torn last line is skipped."""
        merged: dict[str, dict[str, Any]] = {}
        if not self.jsonl.is_file():
            return []
        for line in self.jsonl.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill mid-write
            if not isinstance(rec, dict) or "id" not in rec:
                continue
            merged.setdefault(rec["id"], {}).update(rec)
        return list(merged.values())

    def next_id(self) -> str:
        nums = [int(r["id"][1:]) for r in self.read() if str(r.get("id", "")).startswith("e") and r["id"][1:].isdigit()]
        return f"e{max(nums, default=0) + 1:04d}"

    def start(self, record: dict[str, Any]) -> None:
        rec = {"event": "start", "status": "running", "started_at": now_iso(), **record}
        _append(self.jsonl, json.dumps(rec, default=str) + "\n")

    def end(self, exp_id: str, fields: dict[str, Any], *, title: str = "", commit: str = "") -> None:
        """The end line, then the TSV row (both fsynced)."""
        status = fields.get("status")
        assert status in FINAL_STATUSES, status
        rec = {"event": "end", "id": exp_id, "ended_at": now_iso(), **fields}
        _append(self.jsonl, json.dumps(rec, default=str) + "\n")
        self._tsv_row({"id": exp_id, "title": title, "commit": commit, **fields})

    def _tsv_row(self, rec: dict[str, Any]) -> None:
        if not self.tsv.is_file() or self.tsv.stat().st_size == 0:
            _append(self.tsv, "\t".join(TSV_COLUMNS) + "\n")
        metrics = rec.get("metrics") or {}
        aux = rec.get("aux") or {}
        mem = aux.get("peak_memory_mb")
        row = [
            rec["id"],
            str(rec.get("commit") or "")[:7],
            _fmt(metrics.get("pbqc"), ".4f"),
            _fmt(metrics.get("dice"), ".4f"),
            _fmt(mem / 1024 if isinstance(mem, (int, float)) else None, ".2f"),
            _fmt(aux.get("img_per_sec"), ".1f"),
            str(rec.get("status", "")),
            _one_line(rec.get("title", "") + (f" ({rec['reason']})" if rec.get("reason") else "")),
        ]
        _append(self.tsv, "\t".join(row) + "\n")

    def tsv_ids(self) -> list[str]:
        if not self.tsv.is_file():
            return []
        lines = self.tsv.read_text(encoding="utf-8").splitlines()[1:]
        return [ln.split("\t", 1)[0] for ln in lines if ln.strip()]

    def repair_tsv(self) -> list[str]:
        """Append TSV rows for ended records that lack one (a kill between the two writes)."""
        have = set(self.tsv_ids())
        added = []
        for rec in self.read():
            if rec.get("status") in FINAL_STATUSES and rec["id"] not in have:
                self._tsv_row(rec)
                added.append(rec["id"])
        return added
