"""PDF text per page with pypdf: two-column pages put in reading order where pypdf interleaved
the columns, and tables kept as rows (read with pypdf's layout mode) instead of number soup."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from gg_research.knowledge.cleanup import clean_pages
from gg_research.knowledge.document_parts import ExtractedDocument, OutlineEntry
from gg_research.knowledge.errors import DocumentError

# A fragment starting right of this share of the page width belongs to the right column.
RIGHT_COLUMN_X = 0.45
MIN_RIGHT_LINES = 4
# Interleaved columns switch sides almost every line; a page read column by column switches once
# or twice (a full-width caption or title). Repair only above this share of switches.
MIN_SWITCH_SHARE = 0.5
_CELL_GAP = re.compile(r"\s{3,}")
_NUMERIC = re.compile(r"^[-+±~≈<>]?[\d.,]+(?:e[-+]?\d+)?%?$", re.IGNORECASE)
MIN_TABLE_COLUMNS = 3


class PypdfReader:
    """DocumentReader for PDFs. Bad files raise DocumentError with the reason in one line."""

    kind = "pdf"

    def read(self, path: Path, data: bytes) -> ExtractedDocument:
        import io

        import pypdf
        from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PyPdfError

        if not data.lstrip()[:1024].startswith(b"%PDF-") and b"%PDF-" not in data[:1024]:
            raise DocumentError(path, f"not a PDF (no %PDF header; starts with {data[:8]!r})")
        if b"%%EOF" not in data[-2048:]:
            raise DocumentError(path, "truncated PDF (no %%EOF end marker; was the download cut short?)")
        logging.getLogger("pypdf").setLevel(logging.ERROR)
        try:
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    ok = reader.decrypt("")
                except DependencyError as exc:
                    raise DocumentError(path, f"encrypted PDF that needs an extra package to open: {exc}") from None
                if not ok:
                    raise DocumentError(path, "encrypted PDF (it needs a password; save an unlocked copy)")
            n_pages = len(reader.pages)
            if n_pages == 0:
                raise DocumentError(path, "PDF has no pages")
            raw_pages = [_page_text(page) for page in reader.pages]
            title = _title(reader)
            outline = read_outline(reader, n_pages)
        except DocumentError:
            raise
        except FileNotDecryptedError:
            raise DocumentError(path, "encrypted PDF (it needs a password; save an unlocked copy)") from None
        except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise DocumentError(path, f"corrupt PDF ({type(exc).__name__}: {_one_line(exc)})") from None
        if not any(p.strip() for p in raw_pages):
            raise DocumentError(path, f"no text layer in {n_pages} page(s) (an image-only scan? run OCR first)")
        pages = clean_pages(raw_pages)
        return ExtractedDocument(source=str(path), title=title or path.stem, kind=self.kind, pages=pages, outline=outline)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160]


MIN_OUTLINE_ENTRIES = 2  # a single bookmark (the title) says nothing about sections
MAX_OUTLINE_ENTRIES = 5000


def read_outline(reader: object, n_pages: int) -> list[OutlineEntry] | None:
    """The document's bookmarks in document order (title, 1-based page, depth), or None.

    LaTeX with hyperref and word processors write one bookmark per heading with its page. A
    damaged outline, or one whose entries point nowhere, counts as none: the text's headings are
    then all there is.
    """
    entries: list[OutlineEntry] = []

    def walk(items: object, level: int) -> None:
        for item in items:  # type: ignore[attr-defined]
            if len(entries) >= MAX_OUTLINE_ENTRIES:
                return
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            try:
                page = reader.get_destination_page_number(item)  # type: ignore[attr-defined]
            except Exception:  # a bookmark to a missing page, a named destination that is gone
                page = None
            if title and page is not None and 0 <= page < n_pages:
                entries.append(OutlineEntry(title, page + 1, level))

    try:
        walk(reader.outline, 0)  # type: ignore[attr-defined]
    except Exception:  # the outline is a help, never a reason to fail the file
        return None
    if len(entries) < MIN_OUTLINE_ENTRIES:
        return None
    # Document order: by page, the outline's own order within a page (a stable sort keeps it).
    return sorted(entries, key=lambda e: e.page)


def _title(reader: object) -> str:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = (meta.title if meta else "") or ""
    except Exception:  # metadata of a damaged file is optional; never fail the ingest over it
        return ""
    title = " ".join(str(title).split())
    return "" if title.lower() in {"untitled", "untitled document"} else title


def _page_text(page: object) -> str:
    text = _reading_order(page)
    return _with_table_rows(page, text)


def _reading_order(page: object) -> str:
    """Text of one page; a two-column page whose columns pypdf interleaved is re-read by column.

    pypdf gives text in content-stream order; some producers write a two-column page line by
    line across both columns, interleaving them. The visitor gives each fragment's position,
    so lines starting in the right half are moved after the left column's, but only when the
    stream really alternates between the columns: a page already read column by column is left
    as it is (moving its full-width captions would splice them into sentences).
    """
    fragments: list[tuple[float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: object) -> None:
        if text:
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            fragments.append((x, y, text))

    plain = page.extract_text(visitor_text=visit)  # type: ignore[attr-defined]
    try:
        width = float(page.mediabox.width)  # type: ignore[attr-defined]
    except Exception:
        return plain
    lines = _lines(fragments)
    right = [ln for ln in lines if ln[0] >= RIGHT_COLUMN_X * width and ln[1].strip()]
    if len(right) < MIN_RIGHT_LINES or len(right) < 0.3 * len(lines):
        return plain
    sides = [ln[0] >= RIGHT_COLUMN_X * width for ln in lines if ln[1].strip()]
    switches = sum(a != b for a, b in zip(sides, sides[1:]))
    if switches < MIN_SWITCH_SHARE * len(right):
        return plain
    left = [ln for ln in lines if ln[0] < RIGHT_COLUMN_X * width]
    return "\n".join(text.rstrip("\n") for _, text in left + right) + "\n"


def _lines(fragments: list[tuple[float, float, str]]) -> list[tuple[float, str]]:
    """Group fragments into visual lines: (x of the line's first fragment, text)."""
    lines: list[tuple[float, str]] = []
    current: list[str] = []
    start_x = 0.0
    for x, _y, text in fragments:
        if not current:
            start_x = x
        current.append(text)
        if text.endswith("\n"):
            lines.append((start_x, "".join(current)))
            current = []
    if current:
        lines.append((start_x, "".join(current)))
    return lines


def _with_table_rows(page: object, text: str) -> str:
    """Tables of the page as one line per row with its column names: "Epochs: 5 | Dice: 0.836".

    pypdf's plain text gives a table's cells one after another (number soup once joined into a
    paragraph); its layout mode keeps them on rows with wide gaps. Pages without a run of short
    numeric lines skip the (slower) layout pass.
    """
    if not _may_hold_table(text):
        return text
    try:
        layout = page.extract_text(extraction_mode="layout")  # type: ignore[attr-defined]
    except Exception:  # layout mode is a refinement; plain text is still good text
        return text
    for table in _tables(layout):
        text = _replace_cells(text, table)
    return text


def _may_hold_table(text: str) -> bool:
    run = 0
    for line in text.split("\n"):
        cells = line.split()
        numeric = sum(bool(_NUMERIC.match(c)) for c in cells)
        run = run + 1 if cells and numeric and numeric * 2 >= len(cells) else 0
        if run >= MIN_TABLE_COLUMNS:
            return True
    return False


def _tables(layout: str) -> list[list[list[str]]]:
    """Runs of at least two layout lines cut by wide gaps into the same number (>= 3) of cells."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in layout.split("\n") + [""]:
        cells = [c for c in _CELL_GAP.split(line.strip()) if c] if line.strip() else []
        if len(cells) >= MIN_TABLE_COLUMNS and (not current or len(cells) == len(current[0])):
            current.append(cells)
            continue
        if len(current) >= 2 and any(_NUMERIC.match(c) for row in current[1:] for c in row):
            tables.append(current)
        current = [cells] if len(cells) >= MIN_TABLE_COLUMNS else []
    return tables


def _replace_cells(text: str, table: list[list[str]]) -> str:
    header = table[0] if sum(bool(_NUMERIC.match(c)) for c in table[0]) == 0 else None
    body = table[1:] if header else table
    if header:
        rows = [" | ".join(f"{h}: {v}" for h, v in zip(header, row)) for row in body]
    else:
        rows = [" | ".join(row) for row in body]
    words = [w for row in table for cell in row for w in cell.split()]
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    m = pattern.search(text)
    if not m:
        return text
    return text[: m.start()] + "\n" + "\n".join(rows) + "\n" + text[m.end():]
