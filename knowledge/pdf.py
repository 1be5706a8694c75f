"""PDF text per page with pypdf, with the reading order of two-column pages repaired."""

from __future__ import annotations

import logging
from pathlib import Path

from gg_research.knowledge.cleanup import clean_pages
from gg_research.knowledge.errors import DocumentError
from gg_research.knowledge.records import ExtractedDocument

# A fragment starting right of this share of the page width belongs to the right column.
RIGHT_COLUMN_X = 0.45
MIN_RIGHT_LINES = 4


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
        except DocumentError:
            raise
        except FileNotDecryptedError:
            raise DocumentError(path, "encrypted PDF (it needs a password; save an unlocked copy)") from None
        except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise DocumentError(path, f"corrupt PDF ({type(exc).__name__}: {_one_line(exc)})") from None
        if not any(p.strip() for p in raw_pages):
            raise DocumentError(path, f"no text layer in {n_pages} page(s) (an image-only scan? run OCR first)")
        pages = clean_pages(raw_pages)
        return ExtractedDocument(source=str(path), title=title or path.stem, kind=self.kind, pages=pages)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160]


def _title(reader: object) -> str:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = (meta.title if meta else "") or ""
    except Exception:  # metadata of a damaged file is optional; never fail the ingest over it
        return ""
    title = " ".join(str(title).split())
    return "" if title.lower() in {"untitled", "untitled document"} else title


def _page_text(page: object) -> str:
    """Text of one page; a two-column page is re-read column by column.

    pypdf gives text in content-stream order; some producers write a two-column page line by
    line across both columns, interleaving them. The visitor gives each fragment's position,
    so lines starting in the right half are moved after the left column's.
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
