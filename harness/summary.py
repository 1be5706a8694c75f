"""The `---` summary block: printed last by a run, one `key: value` a line (grep-able)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from gg_research.config import HARNESS_METRICS

# The harness's figures (the objectives a workspace may choose among them), then identities.
# What the machine did beside the run's own figures: a reader of the log can tell a busy night.
SUMMARY_KEYS: tuple[str, ...] = (*HARNESS_METRICS, "num_images", "images_served", "machine_busy", "load_1m", "device",
                                 "seed")


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.6g}"
    return str(value)


def format_summary(summary: dict[str, Any]) -> str:
    """The block: a line `---`, then the summary keys in their fixed order."""
    lines = ["---"]
    for key in SUMMARY_KEYS:
        if key in summary:
            lines.append(f"{key}: {_fmt(summary[key])}")
    return "\n".join(lines)


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_summary(text: str) -> dict[str, Any]:
    """The last `---` block of a log as a dict (numbers as int/float); {} when there is none."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "---"]
    if not starts:
        return {}
    out: dict[str, Any] = {}
    for line in lines[starts[-1] + 1 :]:
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key or " " in key:
            break
        out[key] = _value(value.strip())
    return out


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """A run's JSON file (last_run.json, train_report.json): a reader sees the old file or the whole new one.

    The temp file is made new (O_EXCL) beside the target, and the rename replaces whatever name was
    there (a link included) without following it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=2, default=str))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
