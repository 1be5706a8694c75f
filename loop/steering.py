"""Steering a running night: the brief is read at each experiment, and dated notes reach the next prompt.

`program.md` is read afresh before every proposal, but from the loop's branch: the engine resets
the tracked files to the latest kept commit first, so an uncommitted edit is undone (and one made
while a run trains marks that run invalid: a tracked file changed under it). A running night is
steered by notes instead: `gg-research note "..."` appends to `.gg/notes.jsonl`, which git does
not track, so no check sees it; every later prompt shows the newest notes with their dates.
To change the brief itself, stop the loop, commit the edited program.md and start a new tag (a
resumed tag goes back to its kept commit, which holds the old brief).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gg_research.config import Config
from gg_research.loop.errors import NoteError
from gg_research.workspace_map import WorkspaceMap

MAX_NOTE_CHARS = 2000
NOTES_SHOWN = 10


@dataclass
class Note:
    at: datetime
    text: str

    def line(self) -> str:
        return f"- {self.at:%Y-%m-%d %H:%M}: {self.text}"


def read_brief(workspace: Path, config: Config) -> str:
    """program.md (or the configured brief) as it is now; empty when there is none."""
    path = Path(workspace) / config.workspace.brief
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def notes_path(workspace: Path) -> Path:
    return WorkspaceMap(Path(workspace)).notes


def add_note(workspace: Path, text: str, now: datetime | None = None) -> Note:
    """Append a dated note (local time) for the next proposals; fsynced, so a running loop reads it whole."""
    text = text.strip()
    if not text:
        raise NoteError("the note is empty; write what the next proposals should consider")
    if len(text) > MAX_NOTE_CHARS:
        raise NoteError(f"the note has {len(text)} characters; keep it under {MAX_NOTE_CHARS} (program.md holds the long brief)")
    note = Note((now or datetime.now()).astimezone().replace(microsecond=0), text)
    path = notes_path(workspace)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"at": note.at.isoformat(), "text": note.text}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise NoteError(f"{path}: cannot write the note: {exc.strerror or exc}") from None
    return note


def read_notes(workspace: Path) -> list[Note]:
    """All notes, oldest first; a line that cannot be read (e.g. half-written) is skipped."""
    path = notes_path(workspace)
    if not path.is_file():
        return []
    notes = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            obj = json.loads(raw)
            notes.append(Note(datetime.fromisoformat(obj["at"]), str(obj["text"])))
        except (ValueError, KeyError, TypeError):
            continue
    return notes
