"""Checks and applies a hypothesis's edits (ARCHITECTURE.md: A hypothesis).

Every check runs on in-memory copies first, so a refused hypothesis leaves the files as
they were. The refusal reason is one line and goes back to the proposer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gg_research.loop.errors import EditRefused
from gg_research.loop.hypothesis import Hypothesis


@dataclass(frozen=True)
class Applied:
    files: dict[str, str]  # mutable path -> new contents (only the files that changed)
    content_hash: str  # hash of every mutable file's contents after the edits


def mutable_contents(workspace: Path, mutable: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for rel in mutable:
        path = workspace / rel
        out[rel] = path.read_text(encoding="utf-8") if path.is_file() else ""
    return out


def content_hash(contents: dict[str, str]) -> str:
    """Identity of a state of the mutable files, so a repeated diff is recognised."""
    h = hashlib.sha256()
    for rel in sorted(contents):
        h.update(rel.encode() + b"\0" + contents[rel].encode("utf-8") + b"\0")
    return h.hexdigest()[:20]


def _resolve_mutable(workspace: Path, raw: str, mutable: Iterable[str]) -> str:
    """The mutable entry `raw` names, or EditRefused saying why it is not allowed."""
    pure = PurePosixPath(raw.replace("\\", "/"))
    if pure.is_absolute() or raw.startswith("~") or (len(raw) > 1 and raw[1] == ":"):
        raise EditRefused(f"edit path {raw!r} is absolute; paths are relative to the workspace")
    if ".." in pure.parts:
        raise EditRefused(f"edit path {raw!r} leaves the workspace ('..')")
    root = workspace.resolve()
    target = (root / pure).resolve()  # follows symlinks, so a link pointing out is caught
    if target != root and root not in target.parents:
        raise EditRefused(f"edit path {raw!r} resolves to {target}, outside the workspace")
    for rel in mutable:
        if (root / rel).resolve() == target:
            return rel
    raise EditRefused(f"edit path {raw!r} is not a mutable file (mutable: {', '.join(mutable)}); it is frozen")


def check_edits(
    workspace: Path, hyp: Hypothesis, mutable: list[str], current: dict[str, str] | None = None,
) -> Applied:
    """Validate all edits against the current files; return the new contents or raise EditRefused.

    Whether the result repeats an earlier experiment is the cycle's check (`loop.cycle.check_proposal`),
    which knows the ledger.

    `current` stands in for the files on disk (an agent's step checks its edit against the kept
    commit's files while its own edit is still in the working tree).
    """
    workspace = Path(workspace)
    current = dict(current) if current is not None else mutable_contents(workspace, mutable)
    new = dict(current)
    for i, edit in enumerate(hyp.edits, 1):
        rel = _resolve_mutable(workspace, edit.path, mutable)
        if rel not in current or not (workspace / rel).is_file():
            raise EditRefused(f"edit {i}: {rel} does not exist")
        count = new[rel].count(edit.search)
        if count != 1:
            where = "not found" if count == 0 else f"found {count} times"
            raise EditRefused(f"edit {i}: search text {where} in {rel} (it must occur exactly once): {edit.search[:80]!r}")
        new[rel] = new[rel].replace(edit.search, edit.replace, 1)
    for rel, text in new.items():
        if text != current[rel] and rel.endswith(".py"):
            try:
                compile(text, rel, "exec", dont_inherit=True)
            except SyntaxError as exc:
                raise EditRefused(f"{rel} does not compile after the edits: line {exc.lineno}: {exc.msg}") from None
    changed = {rel: text for rel, text in new.items() if text != current[rel]}
    if not changed:
        raise EditRefused("the edits change nothing (empty diff)")
    return Applied(files=changed, content_hash=content_hash(new))


def write_files(workspace: Path, applied: Applied) -> None:
    """Write the edited files, each atomically (a kill mid-write leaves old or new, not half)."""
    for rel, text in applied.files.items():
        path = Path(workspace) / rel
        tmp = path.with_name(f".{path.name}.gg-tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
