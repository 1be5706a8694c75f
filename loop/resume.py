"""Starting a loop on its branch: a new tag, or the resume of one after a kill, a reboot or Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loop.errors import LoopSetupError

if TYPE_CHECKING:
    from loop.engine import LoopEngine

RESUME_REASON = "interrupted: the loop died while this experiment ran (found on resume)"


def applying_marker(ws: Path, tag: str) -> Path:
    """Exists while the loop writes and commits edits; on resume it says a dirty file is the loop's own."""
    return ws / ".gg" / f"applying-{tag.replace('/', '_')}"


def prepare_branch(engine: "LoopEngine") -> list[str]:
    """Check out (or create) the loop's branch in a consistent state; return lines to print."""
    git, ws, tag, branch = engine.git, engine.ws, engine.tag, engine.branch
    records = engine.records()
    exists = git.branch_exists(branch)
    if records and not exists:
        raise LoopSetupError(f"{ws}: the ledger has experiments of tag {tag!r} but branch {branch} is gone; use a new tag")
    if exists and not records:
        raise LoopSetupError(f"{ws}: branch {branch} already exists (not made by a loop of this ledger); use a new tag")
    for rel in engine.mutable:
        if not (ws / rel).is_file() or not git.tracked(rel):
            raise LoopSetupError(f"{ws / rel}: mutable file is missing or not committed")
    marker = applying_marker(ws, tag)
    dirty = git.dirty(engine.mutable)
    ours = bool(records) and marker.exists() and git.current_branch() == branch
    if dirty and not ours:
        raise LoopSetupError(f"{ws}: uncommitted changes in mutable file(s) {', '.join(dirty)}; commit or discard them first")
    lines: list[str] = []
    if not records:
        git.create_branch(branch)
        lines.append(f"loop {tag}: new branch {branch} from {git.head()[:7]}")
        return lines
    if git.current_branch() != branch:
        if git.dirty(engine.mutable):
            raise LoopSetupError(f"{ws}: uncommitted changes in mutable files; cannot switch to {branch}")
        git.checkout(branch)
    for rec in records:
        if rec.get("status") == "running":
            engine.ledger.end(rec["id"], {"status": "crash", "decision": "crash", "reason": RESUME_REASON,
                                          "seeds": [], "metrics": {}, "aux": {}},
                              title=rec.get("title", ""), commit=rec.get("commit", ""))
            lines.append(f"{rec['id']}: was running when the loop died; recorded as crash")
    for exp_id in engine.ledger.repair_tsv():
        lines.append(f"{exp_id}: missing row added to results.tsv")
    kept = engine.last_kept()
    target = kept["commit"] if kept else records[0].get("parent_commit") or git.head()
    git.reset_hard(target)
    marker.unlink(missing_ok=True)
    lines.append(f"loop {tag}: resumed at {target[:7]} after {len(records)} recorded experiment(s)")
    return lines
