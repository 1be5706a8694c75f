"""An autoresearch-style `results.tsv`, read as past experiments of the ledger.

The file is the coding agent's hand-kept log: a header row, then one tab-separated row per
experiment, e.g. `commit  val_bpb  memory_gb  status  description` (forks add metric columns,
a `val_pass` column, free-text columns). Its columns are found by name: the commit, the status
(`status` or `result`), the description (`description` or `notes`); every other column whose
cells are numbers is a figure. A row that does not parse (a wrong number of cells, an unknown
status, a figure that is not a number) is listed with its line and left out, never guessed.

Crash rows carry placeholder figures by convention (`0.000000`), so a crash imports without
figures. A row is the baseline only when it says so (status `baseline`, or a kept row described
as `baseline`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from gg_research.results.record import Experiment, Status

COMMIT_COLUMNS = ("commit", "hash", "sha")
STATUS_COLUMNS = ("status", "result", "decision", "outcome")
TEXT_COLUMNS = ("description", "notes", "note", "desc", "idea", "comment")
MISSING = ("", "n/a", "na", "-", "none", "null")
MAX_BYTES = 8 * 2**20  # a night of a thousand rows is about 100 kB
MAX_DESCRIPTION = 300

_STATUS_WORDS = {
    "keep": Status.KEEP, "kept": Status.KEEP, "improved": Status.KEEP, "advance": Status.KEEP,
    "discard": Status.DISCARD, "discarded": Status.DISCARD, "revert": Status.DISCARD, "reverted": Status.DISCARD,
    "crash": Status.CRASH, "crashed": Status.CRASH, "error": Status.CRASH, "failed": Status.CRASH,
    "fail": Status.CRASH, "timeout": Status.CRASH, "oom": Status.CRASH,
    "baseline": Status.BASELINE,
}


@dataclass
class HistoryRow:
    line: int
    status: Status
    commit: str  # as written (7 hex digits, or "a1b2c3d-dirty", or nothing)
    description: str
    figures: dict[str, float] = field(default_factory=dict)  # every numeric column's finite value
    fields: dict[str, str] = field(default_factory=dict)  # the other text columns, as written


@dataclass
class History:
    source: str
    columns: list[str]
    figure_columns: list[str]  # numeric columns, in file order
    rows: list[HistoryRow]
    skipped: list[str]  # "line N: why" for each row left out
    notes: list[str]  # "line N: ..." for rows imported with something missing


def cell_number(raw: str) -> float | None:
    """A finite number (`true`/`false` are 1/0, a trailing % is dropped), else None."""
    text = raw.strip().removesuffix("%")
    if text.lower() in ("true", "false"):
        return 1.0 if text.lower() == "true" else 0.0
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _role(columns: list[str], names: tuple[str, ...]) -> int | None:
    low = [c.strip().lower() for c in columns]
    return next((low.index(n) for n in names if n in low), None)


def parse_results_tsv(text: str, source: str = "results.tsv") -> History:
    """Parse the whole file; a missing header or status column is a ValueError naming `source`."""
    lines = text.removeprefix("\ufeff").splitlines()  # a BOM, as Windows editors write one
    if not lines or not lines[0].strip():
        raise ValueError(f"{source}: empty, no header row")
    columns = [c.strip() for c in lines[0].split("\t")]
    status_at = _role(columns, STATUS_COLUMNS)
    if status_at is None or len(columns) < 2:
        raise ValueError(f"{source}: header {lines[0][:120]!r} has no status column "
                         f"({' or '.join(STATUS_COLUMNS)}; the file must be tab-separated)")
    commit_at, text_at = _role(columns, COMMIT_COLUMNS), _role(columns, TEXT_COLUMNS)
    roles = {status_at, commit_at, text_at} - {None}
    cells_by_line = [(n, [c.strip() for c in ln.split("\t")]) for n, ln in enumerate(lines[1:], start=2) if ln.strip()]
    figure_at = [i for i in range(len(columns)) if i not in roles and any(
        len(cells) == len(columns) and cell_number(cells[i]) is not None for _, cells in cells_by_line)]
    history = History(source, columns, [columns[i] for i in figure_at], [], [], [])
    for number, cells in cells_by_line:
        where = f"line {number}"
        if len(cells) != len(columns):
            history.skipped.append(f"{where}: {len(cells)} cells for {len(columns)} columns "
                                   f"(a tab in a description?): {_cut(' | '.join(cells), 80)}")
            continue
        word = cells[status_at].lower()
        status = _STATUS_WORDS.get(word)
        if status is None:
            history.skipped.append(f"{where}: unknown status {cells[status_at][:30]!r} "
                                   f"(known: keep, discard, crash, baseline and their synonyms)")
            continue
        figures: dict[str, float] = {}
        bad = ""
        for i in figure_at:
            raw = cells[i]
            if raw.lower() in MISSING:
                continue
            value = cell_number(raw)
            if value is None:
                bad = f"{columns[i]} {raw[:30]!r} is not a number"
                break
            figures[columns[i]] = value
        if bad:
            history.skipped.append(f"{where}: {bad}")
            continue
        description = _cut(cells[text_at], MAX_DESCRIPTION) if text_at is not None else ""
        if status is Status.KEEP and description.lower().startswith("baseline"):
            status = Status.BASELINE
        if status is Status.CRASH:
            figures = {}  # placeholders by convention (0.000000 for a crash), not measurements
        fields = {columns[i]: _cut(cells[i], 120) for i in range(len(columns))
                  if i not in roles and i not in figure_at and cells[i]}
        history.rows.append(HistoryRow(number, status, cells[commit_at] if commit_at is not None else "",
                                       description, figures, fields))
    return history


def read_results_tsv(path: Path) -> History:
    """Read `path` (bounded, UTF-8) and parse it; OSError and ValueError carry the reason."""
    data = Path(path).read_bytes()[: MAX_BYTES + 1]
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path}: over {MAX_BYTES // 2**20} MB; not a results.tsv")
    return parse_results_tsv(data.decode("utf-8", errors="replace"), str(path))


def imported_experiments(history: History, objectives: list[str], tag: str,
                         commits: dict[str, str]) -> tuple[list[Experiment], list[str]]:
    """The rows as ended experiments of `tag` (ids h0001...), marked imported; and notes on what is missing.

    `commits` maps a row's commit text to the full hash git has for it (absent: not in git). The
    objectives' columns become the metrics, every other figure an auxiliary figure.
    """
    out: list[Experiment] = []
    notes: list[str] = []
    for k, row in enumerate(history.rows, start=1):
        metrics = {n: v for n, v in row.figures.items() if n in objectives}
        aux = {n: v for n, v in row.figures.items() if n not in objectives}
        if row.status.measured and len(metrics) < len(objectives):
            missing = [n for n in objectives if n not in metrics]
            notes.append(f"line {row.line}: {row.status} without {', '.join(missing)}; imported without it")
        full = commits.get(row.commit, "")
        if row.commit and not full:
            notes.append(f"line {row.line}: commit {row.commit[:20]!r} is not in this repository's git")
        title = row.description or f"(no description, {history.source} line {row.line})"
        out.append(Experiment(
            id=f"h{k:04d}", tag=tag, status=row.status, commit=full, title=title,
            hypothesis={"title": title, "rationale": ""}, proposer="imported",
            reason=f"imported from {Path(history.source).name} line {row.line}",
            metrics=metrics, aux=aux, ended=True,
            imported={"source": Path(history.source).name, "line": row.line, "commit": row.commit[:40],
                      **({"fields": row.fields} if row.fields else {})},
        ))
    return out, notes


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
