"""What the parent reads of the files a run leaves: bounded, no link followed, and of the child's
own report only plain words and sane numbers.

A run may write anything into its output folder; the parent takes named files from it
(harness.outputs), reads them here, and nothing a run wrote can make the parent raise, hang or
print a forged summary.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from gg_research.workspace_map import (CURVES_FILE, PER_IMAGE_FILE, PREDICTIONS_FILE, SUMMARY_FILE, TEST_PREDICTIONS_FILE,
                                      TEST_SCORES_FILE, TRAIN_REPORT_FILE, WEIGHTS_FILE)

# The files of a run folder the parent writes (or takes) for this run: a stale one must not pass for its result.
PARENT_FILES = (SUMMARY_FILE, TEST_SCORES_FILE, PER_IMAGE_FILE, PREDICTIONS_FILE, TEST_PREDICTIONS_FILE,
                TRAIN_REPORT_FILE, WEIGHTS_FILE, CURVES_FILE)
# Keys of a summary that are the parent's, never a `[run] command`'s: the fingerprint of the frozen
# inputs, whether it was boxed, the wall time it took, the config and versions it ran with.
PARENT_KEYS = ("frozen", "train_sha256", "boxed", "isolation", "total_seconds", "config", "versions")
SUMMARY_CAP = 1 << 20
EVIDENCE_CAP = 64 << 20
REPORT_CAP = 1 << 20

# What of the child's report may reach the summary, the terminal and the ledger: plain words and
# sane numbers (a device string holding a newline would print a forged `---` block).
_DEVICE = re.compile(r"[A-Za-z0-9:_.\- ]{1,40}")
_SHA = re.compile(r"[0-9a-f]{64}")
_WORD = re.compile(r"[A-Za-z0-9_.+\-]{1,40}")
_MAX_FIGURE = 1e12


def untrusted_report(path: Path) -> dict[str, Any]:
    """The child's own figures (steps, images, memory): shown, never used to score."""
    data = bounded_json(path, REPORT_CAP)
    if not isinstance(data, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in list(data.items())[:50]:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value == value and 0 <= value <= _MAX_FIGURE:  # a count, a time, a size: nothing else is shown
                out[key] = float(value)
        elif key == "device" and isinstance(value, str) and _DEVICE.fullmatch(value):
            out[key] = value
        elif key == "train_sha256" and isinstance(value, str) and _SHA.fullmatch(value):
            out[key] = value
        elif key == "versions" and isinstance(value, dict):
            out[key] = {k: v for k, v in list(value.items())[:20]
                        if isinstance(k, str) and isinstance(v, str) and _WORD.fullmatch(k) and _WORD.fullmatch(v)}
    return out


def bounded_json(path: Path, cap: int) -> Any:
    """A JSON file a run wrote, or None: at most `cap` bytes, no link followed, nesting that would
    exhaust the parser's recursion refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(cap + 1)
        if len(raw) > cap:
            return None
        return json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def read_summary(path: Path, objectives: list[str], log: Path) -> tuple[dict[str, Any], str]:
    """(summary, '') when a command's last_run.json is valid, or, without one, when its `log` ends
    with a `---` summary holding every objective (harness.kv_summary); else ({}, why not)."""
    if not path.is_file():
        from gg_research.harness.kv_summary import summary_from_log

        return summary_from_log(log, objectives)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return {}, f"{path}: unreadable {SUMMARY_FILE} ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
    if not isinstance(data, dict):
        return {}, f"{path}: {SUMMARY_FILE} is not a JSON object"
    for name in objectives:
        v = data.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)):  # NaN passes: the loop calls it a crash
            return {}, f"{path}: {SUMMARY_FILE} has no numeric {name!r}"
    return data, ""
