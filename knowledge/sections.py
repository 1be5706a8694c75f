"""Section detection and paragraph blocks for page text (PDF and plain notes).

A heading is a short line that starts with a section number ("3.3.4 Training schedule"),
"Chapter 3 ..." (title on the same or the next line), "Appendix A ...", or a well-known
unnumbered title (Abstract, References, ...). Everything after it, until the next heading,
belongs to that section, across pages.
"""

from __future__ import annotations

import re
import statistics

from gg_research.knowledge.records import Block

_NUMBERED = re.compile(r"^(?P<num>\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(?P<title>[A-Z][^\n]*)$")
_LETTERED = re.compile(r"^(?P<num>[A-H](?:\.\d{1,2}){1,4})\.?\s+(?P<title>[A-Z][^\n]*)$")
_CHAPTER = re.compile(r"^(?P<kind>chapter|appendix|part)\s+(?P<num>\d{1,2}|[IVXLC]{1,6}|[A-H])\b[.:—–-]?\s*(?P<title>.*)$", re.IGNORECASE)
_UNNUMBERED = {
    "abstract", "acknowledgements", "acknowledgments", "introduction", "conclusion", "conclusions",
    "references", "bibliography", "summary", "preface", "contents", "table of contents", "appendix",
    "related work", "discussion", "future work", "list of figures", "list of tables", "zusammenfassung",
}
MAX_HEADING_WORDS = 12
MAX_HEADING_CHARS = 90


def detect_heading(line: str) -> tuple[str, str] | None:
    """(number, title) when `line` looks like a section heading, else None."""
    text = " ".join(line.split())
    if not text or len(text) > MAX_HEADING_CHARS:
        return None
    m = _CHAPTER.match(text)
    if m:
        title = m.group("title").strip()
        if title and (title.endswith((".", ",", ";")) or len(title.split()) > MAX_HEADING_WORDS):
            return None
        return f"{m.group('kind').capitalize()} {m.group('num')}", title
    for pattern in (_NUMBERED, _LETTERED):
        m = pattern.match(text)
        if m and _plausible_title(m.group("title")):
            top = m.group("num").split(".")[0]
            if top.isdigit() and int(top) > 40:
                return None
            return m.group("num"), m.group("title").strip()
    if text.lower().rstrip(":") in _UNNUMBERED:
        return "", text.rstrip(":")
    return None


def _plausible_title(title: str) -> bool:
    words = title.split()
    if not words or len(words) > MAX_HEADING_WORDS:
        return False
    if title.rstrip().endswith((".", ",", ";", ":")) and not title.rstrip().endswith("..."):
        return False
    if any("_" in w for w in words):  # identifiers (a format table's "4 CARD32 N_ENTRIES")
        return False
    # Table rows ("1 Baseline 0.61 0.58") are mostly numbers; headings are mostly words.
    numeric = sum(1 for w in words if re.fullmatch(r"[\d.,%±+\-()]+", w))
    return numeric <= len(words) // 3


def _number_key(number: str) -> str:
    """"Chapter 3" and "3" are the same section number; "Appendix A" and "A" too."""
    parts = number.split(" ")
    return parts[-1].upper() if parts[0] in ("Chapter", "Appendix") else number.upper()


def page_blocks(pages: list[str]) -> list[Block]:
    """Split cleaned pages into paragraph blocks that know their page and section."""
    all_lines = [ln for p in pages for ln in p.split("\n") if ln.strip()]
    lengths = [len(ln.strip()) for ln in all_lines]
    typical = statistics.median(lengths) if lengths else 0
    blocks: list[Block] = []
    number, title = "", ""
    pending_chapter = False
    seen_numbers: set[str] = set()
    for page_no, text in enumerate(pages, start=1):
        paragraph: list[str] = []

        def flush(end: bool) -> None:
            body = " ".join(" ".join(paragraph).split())
            if body:
                blocks.append(Block(body, page_no, number, title, end))
            paragraph.clear()

        for raw in text.split("\n"):
            line = raw.strip()
            if not line:
                flush(True)
                continue
            if pending_chapter:
                pending_chapter = False
                if detect_heading(line) is None and len(line.split()) <= MAX_HEADING_WORDS and not line.endswith("."):
                    title = line
                    continue
            heading = detect_heading(line)
            if heading is not None and heading[0]:
                # A section number is used once; seen again it is a running header or a table row.
                key = _number_key(heading[0])
                if key in seen_numbers:
                    heading = None
                else:
                    seen_numbers.add(key)
            if heading is not None:
                flush(True)
                number, title = heading
                pending_chapter = number.split(" ")[0] in ("Chapter", "Appendix", "Part") and not title
                continue
            paragraph.append(line)
            # A short line ending a sentence closes a paragraph (PDFs have no blank lines).
            if typical and len(line) < 0.7 * typical and line.endswith((".", "!", "?", ":")):
                flush(True)
        # A paragraph running over the page break continues on the next page's first block.
        flush(False)
    return blocks
