"""A PDF's outline (bookmarks) as its sections: each entry's heading found on the page it points to.

The outline is the author's own structure: its titles, levels and pages are right by
construction, where headings found in the text are guesses. Only where on its page a section
starts is left to the text: the entry's title (with or without its number) is looked for on that
page, preferring an occurrence at the start of a line, and the page is cut there, mid-line
when the heading runs into the first sentence. An entry whose title is not on its page starts
at the top of that page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gg_research.knowledge.cleanup import normalise
from gg_research.knowledge.document_parts import OutlineEntry

# A marker line put where a section starts: NUL cannot occur in cleaned text (normalise drops it).
MARKER = "\x00H{}\x00"
_MARKER = re.compile(r"^\x00H(\d+)\x00$")
_NUMBER = re.compile(r"^(?P<num>\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(?P<title>\S.*)$")
_LETTERED = re.compile(r"^(?P<num>[A-H](?:\.\d{1,2}){0,4})\.?\s+(?P<title>[A-Z].*)$")
_KIND = re.compile(r"^(?P<kind>chapter|appendix|part)\s+(?P<num>\d{1,2}|[IVXLC]{1,6}|[A-H])\b[.:—–-]?\s*(?P<title>.*)$", re.IGNORECASE)
# What may stand in front of a title on its line: "3.1", "Chapter 3", "Appendix B:", "A.".
_NUMBER_BEFORE = re.compile(
    r"(?:(?:chapter|appendix|part)\s+)?(?:\d{1,2}(?:\.\d{1,2}){0,4}|[IVXLC]{1,6}|[A-H](?:\.\d{1,2}){0,4})[.:]?[ \t]*$", re.IGNORECASE)
# A chapter's number on a line of its own above its title (LaTeX's "Chapter 3" / "Introduction").
_NUMBER_LINE = re.compile(r"(?:(?:chapter|appendix|part)\s+)?(?:\d{1,2}|[IVXLC]{1,6}|[A-H])\.?", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_BACK = ("references", "bibliography", "appendix", "appendices")


@dataclass(frozen=True)
class Heading:
    number: str
    title: str
    level: int


def headings(outline: list[OutlineEntry], printed: dict[int, str] | None = None) -> list[Heading]:
    """Each entry's title split into its number and title ("3.1 Motivation" -> "3.1", "Motivation").

    An entry without a number takes the one printed before its heading on the page (`printed`,
    from mark_pages): hyperref's bookmarks leave the numbers out unless asked.

    A leading capital letter is an appendix number ("A Proofs") only once the references or an
    appendix came, or right after another lettered entry: elsewhere "A Survey of ..." is a title.
    """
    out: list[Heading] = []
    lettered_ok = False
    for entry in outline:
        text = normalise(entry.title).strip()
        number, title = "", text
        m = _KIND.match(text)
        if m:
            number, title = f"{m.group('kind').capitalize()} {m.group('num')}", m.group("title").strip()
        elif (m := _NUMBER.match(text)) is not None:
            number, title = m.group("num"), m.group("title").strip()
        elif lettered_ok and (m := _LETTERED.match(text)) is not None:
            number, title = m.group("num"), m.group("title").strip()
        if not number and printed and printed.get(len(out)):
            number = printed[len(out)]
        if title.lower() in _BACK or number.startswith("Appendix") or re.fullmatch(r"[A-H](?:\.\d{1,2})*", number):
            lettered_ok = True
        out.append(Heading(number, title, entry.level))
    return out


def mark_pages(pages: list[str], outline: list[OutlineEntry]) -> tuple[list[str], dict[int, str]]:
    """The pages with each entry's heading text replaced by a marker line (MARKER.format(i)), and
    the section number printed in front of each entry's title where there is one."""
    by_page: dict[int, list[int]] = {}
    for i, entry in enumerate(outline):
        by_page.setdefault(entry.page, []).append(i)
    out = list(pages)
    printed: dict[int, str] = {}
    for page_no, indices in by_page.items():
        text = out[page_no - 1]
        pieces: list[str] = []
        pos = 0
        for i in indices:
            span = _find(text, outline[i].title, pos)
            start, end = span[:2] if span else (pos, pos)
            if span and span[2]:
                printed[i] = span[2]
            pieces.append(text[pos:start])
            pieces.append("\n" + MARKER.format(i) + "\n")
            pos = end
        pieces.append(text[pos:])
        out[page_no - 1] = "".join(pieces)
    return out, printed


def marker_index(line: str) -> int | None:
    m = _MARKER.match(line)
    return int(m.group(1)) if m else None


def _find(text: str, title: str, start: int) -> tuple[int, int, str] | None:
    """Where `title` is in `text` from `start`, with the number in front of it on its line (and
    that number, "3.1" of "3.1 Motivation" or "Chapter 3", when the title lacks it).

    Only an occurrence at the start of a line (after its number, if any) is a heading: one
    inside a sentence ("as the Introduction said") is not, and cutting there would split the
    sentence.
    """
    words = _WORD.findall(normalise(title))
    if not words:
        return None
    pattern = re.compile(r"\W+".join(re.escape(w) for w in words) + r"\b", re.IGNORECASE)
    for m in pattern.finditer(text, start):
        line_start = text.rfind("\n", 0, m.start()) + 1
        before = text[max(line_start, start) : m.start()]
        if not before.strip():
            prev_start = text.rfind("\n", 0, max(line_start - 1, 0)) + 1
            prev = text[prev_start : max(line_start - 1, prev_start)].strip()
            if line_start > start and prev_start >= start and _NUMBER_LINE.fullmatch(prev):
                return prev_start, m.end(), _printed(prev)
            return m.start(), m.end(), ""
        number = _NUMBER_BEFORE.search(before)
        if number and not before[: number.start()].strip():
            return max(line_start, start) + number.start(), m.end(), _printed(number.group(0))
    return None


def _printed(number: str) -> str:
    """"chapter 3." as "Chapter 3", the way the text's own headings are named."""
    parts = " ".join(number.split()).rstrip(".:").split(" ")
    return f"{parts[0].capitalize()} {parts[1]}" if len(parts) == 2 else parts[0]
