"""Steer a running night: add a dated note that the next proposal (and every later one) sees.

    gg-research note "try the focal loss on thin defects"
    gg-research note --list

Notes go to .gg/notes.jsonl, outside git, so a running loop's work-tree check never sees them
and nothing needs committing. The prompt shows the newest notes with their dates. (program.md is
read at every experiment too, but from the loop's branch: see the README, "Steering a night".)
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="the note, in quotes")
    parser.add_argument("--list", action="store_true", help="print the notes, oldest first")


def run(args: argparse.Namespace) -> int:
    from gg_research.config import find_workspace
    from gg_research.loop.errors import NoteError
    from gg_research.loop.steering import add_note, notes_path, read_notes

    ws = find_workspace()
    if args.list:
        if args.text:
            raise NoteError("give a note or --list, not both")
        notes = read_notes(ws)
        for note in notes:
            print(note.line())
        if not notes:
            print(f"no notes yet ({notes_path(ws)})")
        return 0
    if args.text is None:
        raise NoteError('no note given: gg-research note "what the next proposals should consider"')
    note = add_note(ws, args.text)
    print(f"note added for the next proposal ({note.at:%Y-%m-%d %H:%M}, {notes_path(ws).relative_to(ws)})")
    return 0
