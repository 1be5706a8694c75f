"""Red team of the indexed ledger reader (issue 30, item 5): `LedgerFile.read` must say what a cold
`read_ledger` of the same file says, whatever happened to the file between two reads."""

from __future__ import annotations

import json
from pathlib import Path

from gg_research.results.ledger import LedgerFile, read_ledger


def _line(exp_id: str, pbqc: float) -> str:
    return json.dumps({"event": "end", "id": exp_id, "status": "discard", "cause": "keep-rule",
                       "metrics": {"pbqc": pbqc, "dice": 0.5}}) + "\n"


def _view(ledger) -> list[tuple[str, str, dict[str, float]]]:
    return [(e.id, e.status.value, e.metrics) for e in ledger.experiments]


def test_a_line_edited_in_place_then_an_append_reads_as_a_cold_read_does(tmp_path: Path) -> None:
    """A user fixes an earlier line in place (an editor that keeps the inode, same length) while the
    loop runs; the loop then appends. The append check only compares the last bytes before the old
    end, so the edited line must not be kept from the earlier read."""
    ledger = LedgerFile(tmp_path)
    ledger.jsonl.parent.mkdir(parents=True)
    ledger.jsonl.write_text(_line("e0001", 0.1) + _line("e0002", 0.2))
    ledger.read()
    with open(ledger.jsonl, "r+b") as fh:  # same inode, same length: e0001's pbqc 0.1 -> 0.9
        fh.write(_line("e0001", 0.9).encode())
    with open(ledger.jsonl, "ab") as fh:
        fh.write(_line("e0003", 0.3).encode())
    cold = _view(read_ledger(ledger.jsonl))
    assert cold[0][2]["pbqc"] == 0.9
    assert _view(ledger.read()) == cold


def test_a_file_truncated_and_regrown_past_its_old_length_reads_as_a_cold_read_does(tmp_path: Path) -> None:
    """Truncated to nothing and written again, longer, with the same bytes where the old end was:
    that is a rewrite, not an append."""
    ledger = LedgerFile(tmp_path)
    ledger.jsonl.parent.mkdir(parents=True)
    ledger.jsonl.write_text(_line("e0001", 0.1) + _line("e0002", 0.2))
    ledger.read()
    with open(ledger.jsonl, "r+b") as fh:
        fh.truncate(0)
        fh.write((_line("e0001", 0.7) + _line("e0002", 0.2) + _line("e0004", 0.4)).encode())
    assert _view(ledger.read()) == _view(read_ledger(ledger.jsonl))


def test_a_ledger_saved_twice_by_rename_then_appended_reads_as_a_cold_read_does(tmp_path: Path) -> None:
    """`sed -i` (or an editor) saves by writing a new file and renaming it over the ledger. After two
    such saves the file system commonly gives the second file the first one's freed inode number, so
    the (device, inode) in the index's key says "same file"; with the bytes before the old end equal,
    what follows is taken for an append and the edited line is never read. (On a file system that
    does not reuse the inode at once this test passes without showing anything.)"""
    import os

    ledger = LedgerFile(tmp_path)
    ledger.jsonl.parent.mkdir(parents=True)
    for attempt in range(5):
        ledger.jsonl.write_text(_line("e0001", 0.1) + _line("e0002", 0.2))
        ledger.read()
        for save, pbqc in enumerate((0.4, 0.7)):  # two saves, each fixing e0001's line (same length)
            tmp = ledger.jsonl.with_name(f"experiments.jsonl.sed{save}")
            tmp.write_text(_line("e0001", pbqc) + _line("e0002", 0.2))
            os.replace(tmp, ledger.jsonl)
        with open(ledger.jsonl, "ab") as fh:  # the loop appends its next line
            fh.write(_line("e0003", 0.3).encode())
        assert _view(ledger.read()) == _view(read_ledger(ledger.jsonl)), f"attempt {attempt}"
