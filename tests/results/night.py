"""Writes realistic workspaces and ledgers for the report's tests, as the loop would.

A night of nine experiments: a baseline repeated over three seeds, keeps, discards (one
near-miss), a crash, an invalid run and an experiment in flight (a start line without an
end line). Hypotheses cite passages with source, page, section and text, and diff paths
point at patch.diff files written here.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, UTC
from pathlib import Path
from typing import Any

START = datetime(2026, 11, 21, 22, 0, tzinfo=UTC)
STEP = timedelta(minutes=9)

CONFIG = """\
[run]
budget_s = 300.0

[[objectives]]
name = "pbqc"
direction = "maximize"
label = "PBQC"

[[objectives]]
name = "dice"
direction = "maximize"
label = "Dice"
"""

THESIS_SCHEDULE = {
    "chunk_id": "a1b2c3:41",
    "source": "thesis.pdf",
    "page": 87,
    "page_end": 88,
    "section": "3.3.4 Training schedule",
    "text": "Training the STN jointly with the segmentation head from the first step kept the "
    "alignment from collapsing; a staged schedule let the head learn to ignore the <render> channel.",
    "score": 0.81,
}
THESIS_LOSS = {
    "chunk_id": "a1b2c3:57",
    "source": "thesis.pdf",
    "page": 102,
    "section": "4.2 Loss weighting",
    "text": "Doubling the alignment loss weight improved PBQC & Dice together; five times collapsed PBQC.",
}
PAPER_FOCAL = {
    "chunk_id": "9f8e7d:3",
    "source": "lin2017-focal.pdf",
    "page": 4,
    "section": "3 Focal Loss",
    "text": "The focal loss down-weights well-classified examples, focusing training on hard negatives.",
}


def diff_text(title: str, old: str, new: str) -> str:
    return (
        "diff --git a/train.py b/train.py\n"
        "--- a/train.py\n+++ b/train.py\n"
        "@@ -10,7 +10,7 @@ def train(ctx):\n"
        f"     # {title}\n"
        f"-    {old}\n"
        f"+    {new}\n"
        "     if step < WARMUP_STEPS and loss > 0:  # keep <, > and & intact\n"
    )


def _exp(
    n: int,
    status: str,
    metrics: dict[str, float] | None,
    title: str,
    *,
    citations: list[dict[str, Any]] | None = None,
    reason: str = "",
    seeds: list[dict[str, Any]] | None = None,
    parent: str | None = None,
) -> dict[str, Any]:
    exp_id = f"e{n:04d}"
    started = START + STEP * (n - 1)
    rec: dict[str, Any] = {
        "id": exp_id,
        "tag": "nov22",
        "status": status,
        "parent": parent,
        "parent_commit": f"{n - 1:07x}",
        "commit": f"c0ffee{n:x}"[:7] if status != "crash" else "",
        "title": title,
        "hypothesis": {
            "title": title,
            "rationale": f"Because the thesis says so ({title.lower()}).",
            "expected": {"pbqc": "up", "dice": "same"},
            "citations": citations or [],
            "parent": parent,
        },
        "passages": citations or [],
        "proposer": "scripted",
        "decision": status,
        "reason": reason or f"{status} by the pareto rule",
        "diff": f"results/runs/{exp_id}/patch.diff",
        "log": f"results/runs/{exp_id}/run.log",
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(minutes=8)).isoformat(),
    }
    if metrics is not None:
        rec["metrics"] = metrics
    if seeds is not None:
        rec["seeds"] = seeds
    return rec


def night_records() -> list[dict[str, Any]]:
    seeds = [
        {"seed": 0, "status": "ok", "metrics": {"pbqc": 0.60, "dice": 0.50}},
        {"seed": 1, "status": "ok", "metrics": {"pbqc": 0.62, "dice": 0.52}},
        {"seed": 2, "status": "ok", "metrics": {"pbqc": 0.59, "dice": 0.51}},
    ]
    return [
        _exp(1, "baseline", {"pbqc": 0.6033, "dice": 0.51}, "Baseline", seeds=seeds, reason="first run"),
        _exp(2, "keep", {"pbqc": 0.66, "dice": 0.55}, "Joint training from step 0", citations=[THESIS_SCHEDULE], parent="e0001"),
        _exp(3, "discard", {"pbqc": 0.21, "dice": 0.58}, "Short STN warm-up before joint training",
             citations=[THESIS_SCHEDULE], reason="pbqc 0.21 below the collapse floor 0.48"),
        _exp(4, "crash", None, "EfficientNet-B0 encoder", reason="RuntimeError: channel mismatch (expected 4, got 3)"),
        _exp(5, "keep", {"pbqc": 0.64, "dice": 0.60}, "Alignment loss weight x2", citations=[THESIS_LOSS], parent="e0002"),
        _exp(6, "invalid", {"pbqc": 1.0, "dice": 0.99}, "Evaluate on the training split",
             reason="integrity check: validation split was modified"),
        _exp(7, "discard", {"pbqc": 0.655, "dice": 0.548}, "Cosine schedule with warm restarts",
             citations=[THESIS_SCHEDULE], reason="within epsilon of e0002 on every objective"),
        _exp(8, "keep", {"pbqc": 0.67, "dice": 0.53}, "Focal loss instead of BCE", citations=[PAPER_FOCAL, THESIS_LOSS]),
    ]


def write_workspace(root: Path, records: list[dict[str, Any]] | None = None, *, in_flight: bool = True,
                    extra_lines: list[str] | None = None) -> Path:
    """A workspace folder with gg-research.toml, the ledger, results.tsv and each run's patch.diff."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "gg-research.toml").write_text(CONFIG, encoding="utf-8")
    results = root / "results"
    results.mkdir(exist_ok=True)
    records = night_records() if records is None else records
    lines: list[str] = []
    for rec in records:
        start = {k: rec[k] for k in ("id", "tag", "parent", "parent_commit", "title", "hypothesis", "passages", "proposer", "started_at") if k in rec}
        start.update(event="start", status="running")
        end = {k: v for k, v in rec.items() if k not in ("hypothesis", "passages")}
        end["event"] = "end"
        lines += [json.dumps(start), json.dumps(end)]
        run_dir = results / "runs" / rec["id"]
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "patch.diff").write_text(diff_text(rec["title"], "JOINT = False", "JOINT = True"), encoding="utf-8")
    if in_flight:
        n = len(records) + 1
        flying = _exp(n, "running", None, "Dropout2d before the final layer", citations=[THESIS_SCHEDULE])
        start = {k: flying[k] for k in ("id", "tag", "title", "hypothesis", "started_at")}
        lines.append(json.dumps({**start, "event": "start", "status": "running"}))
    lines += extra_lines or []
    (results / "experiments.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tsv = ["experiment\tcommit\tpbqc\tdice\tmemory_gb\timg_per_sec\tstatus\tdescription"]
    for rec in records:
        m = rec.get("metrics") or {}
        tsv.append(f"{rec['id']}\t{rec['commit']}\t{m.get('pbqc', '')}\t{m.get('dice', '')}\t1.2\t340\t{rec['status']}\t{rec['title']}")
    (results / "results.tsv").write_text("\n".join(tsv) + "\n", encoding="utf-8")
    return root


def load(root: Path):
    from gg_research.config import load_config

    return load_config(root / "gg-research.toml")
