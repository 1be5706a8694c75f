"""Section detection and paragraph blocks for page text (PDF and plain notes).

A heading (its shape is `knowledge.heading_text`'s to tell) opens a section: everything after
it, until the next heading, belongs to that section, across pages, once the heading fits the
document's outline or its numbering so far. Contents pages and runs of figure labels are found
here too, so they become blocks of their own.
"""

from __future__ import annotations

import bisect
import re
import statistics

from gg_research.knowledge.document_parts import Block, OutlineEntry
from gg_research.knowledge.heading_text import (
    LEADERS,
    MAX_HEADING_WORDS,
    MAX_SUBHEADING_WORDS,
    TABLE_ROW,
    detect_heading,
    is_subheading,
    letter_heading,
    number_key,
    split_run_in,
    top_number,
)
from gg_research.knowledge.outline import Heading, headings, mark_pages, marker_index

# An entry of a contents list or a back-of-book index: dotted leaders, then a page (arabic or roman).
_LEADER_ENTRY = re.compile(r"(?:\.\s*){4,}\s*(?:\d{1,4}|[ivxlc]{1,6})\b", re.IGNORECASE)
INDEX_WORDS_PER_ENTRY = 8  # an entry's title is a few words; prose runs longer between leaders
_BACK_MATTER = {"references", "bibliography", "appendix", "appendices"}
# A table of contents or a list of figures repeats headings and captions with page numbers: it
# matches a question's words better than the passage it points to and holds no answer itself.
NAVIGATION = frozenset({
    "contents", "table of contents", "list of figures", "list of tables", "list of figures and tables", "index",
    "list of abbreviations", "list of symbols", "abbreviations", "nomenclature",
})
_FILLED_UNNUMBERED = {"contents", "table of contents", "list of figures", "list of tables", "references", "bibliography"}
# Figure labels: runs of short lines (at most LABEL_SHARE of a typical line, MAX_LABEL_WORDS words).
FIGURE_KIND = "figures"
LABEL_SHARE = 0.5
MAX_LABEL_WORDS = 5
MIN_LABEL_RUN = 3
MIN_WORD_LABEL_RUN = 6
LABEL_NUMERIC_SHARE = 0.3
LINE_NUMERIC_SHARE = 0.4
_TABLE_CAPTION = re.compile(r"^(?:Table|TABLE|Tab\.)\s*[\dIVXL]")
TABLE_CAPTION_REACH = 2  # lines before or after a run where a table's caption would be
MAX_CHAPTER_STEP = 2  # a new chapter number more than this past the current one is not a heading


def page_blocks(pages: list[str], outline: list[OutlineEntry] | None = None) -> list[Block]:
    """Split cleaned pages into paragraph blocks that know their page, section and sub-heading.

    With the PDF's `outline`, its entries are the sections (outline.py places each on its page);
    of the headings found in the text, only numbered ones below an entry that the outline does
    not list ("3.2.1" under an outline that stops at "3.2") are added. Without one:

    Numbered headings must fit the numbering so far: a section number is used once (seen again it
    is a running header or a table row), and a chapter number may not run backwards or jump far
    ahead (a page number, a reference number or a list item in front of a line), nor move ahead
    at all when the next numbered line goes on with the current chapter (a format table's
    "4 CARD32 WEIGHT in lower 8 bits" between sections 2.9 and 2.10). Table rows are
    blocks of their own and never headings. A short title-like line between paragraphs is an
    unnumbered sub-heading: it starts new blocks (so chunks break there) under the same section.
    """
    heads: list[Heading] | None = None
    if outline:
        pages, printed = mark_pages(pages, outline)
        heads = headings(outline, printed)
    page_lines = [[raw.strip() for raw in text.split("\n")] for text in pages]
    if not outline:
        page_lines = [[part for line in lines for part in split_run_in(line)] for lines in page_lines]
    lengths = [len(line) for lines in page_lines for line in lines if line and marker_index(line) is None]
    detected = [[detect_heading(line) for line in lines] for lines in page_lines]
    upcoming = _numbered_candidates(detected)
    typical = statistics.median(lengths) if lengths else 0
    listed = {number_key(h.number) for h in heads or [] if h.number}
    titles = {h.title.lower() for h in heads or []}
    outline_key = ""  # the number of the outline entry the text is in, under which gaps may be filled
    blocks: list[Block] = []
    number, title, sub = "", "", ""
    pending_chapter = False
    seen_numbers: set[str] = set()
    chapter: int | None = None
    back_matter = False
    chapter_style = False  # chapters open with "Chapter N": a bare "N Title" is then a list item
    last_letter = ""
    after_break = True  # the previous line closed a sentence, a heading or a page
    for page_no, lines in enumerate(page_lines, start=1):
        paragraph: list[str] = []

        labels = label_lines(lines, typical)
        contents_page = is_contents_page(lines)

        # Called within this page's loop only: it must read the heading state as it is now, so
        # it closes over the loop's variables on purpose (B023).
        def flush(end: bool, kind: str = "") -> None:
            body = " ".join(" ".join(paragraph).split())  # noqa: B023
            if body:
                blocks.append(Block(body, page_no, number, title, end, sub, kind))  # noqa: B023
            paragraph.clear()  # noqa: B023

        for i, line in enumerate(lines):
            if not line:
                flush(True)
                after_break = True
                continue
            if heads is not None:
                mark = marker_index(line)
                if mark is not None:
                    flush(True)
                    number, title, sub = heads[mark].number, heads[mark].title, ""
                    outline_key = number_key(number) if number else ""
                    after_break = True
                    continue
                found = detected[page_no - 1][i]
                key = number_key(found[0]) if found and found[0] else ""
                fills = key and outline_key and key.startswith(outline_key + ".") and key not in listed | seen_numbers
                # A contents list or a bibliography the outline does not list (LaTeX bookmarks no "Contents").
                unlisted = found is not None and not found[0] and found[1].lower() in _FILLED_UNNUMBERED and found[1].lower() not in titles
                if fills or unlisted:
                    flush(True)
                    seen_numbers.add(key)
                    number, title, sub = found[0], found[1], ""  # type: ignore[index]
                    outline_key = outline_key if fills else ""
                    after_break = True
                    continue
            if labels[i]:
                if i == 0 or not labels[i - 1]:
                    flush(True)
                paragraph.append(line)
                if i + 1 == len(lines) or not labels[i + 1]:
                    flush(True, FIGURE_KIND)
                after_break = True
                continue
            # With an outline, the heuristics below find sub-headings and table rows only.
            if heads is None and pending_chapter:
                pending_chapter = False
                named = detected[page_no - 1][i]
                if (named is None or not named[0]) and len(line.split()) <= MAX_HEADING_WORDS and not line.endswith("."):
                    title = line
                    after_break = True
                    continue
            if TABLE_ROW.match(line):
                flush(True)
                paragraph.append(line)
                flush(True)
                after_break = True
                continue
            heading = detected[page_no - 1][i] if heads is None else None
            if heading is not None and heading[0] and (contents_page and title.lower() in NAVIGATION or _wrapped_entry(lines, i)):
                heading = None  # an entry of a contents list or a list of figures
            if heading is None and heads is None and (back_matter or last_letter):
                heading = letter_heading(line)
                if heading is not None and not (back_matter and heading[0] == "A" or _next_letter(last_letter) == heading[0]):
                    heading = None
            if heading is not None and heading[0]:
                key = number_key(heading[0])
                top = top_number(heading[0])
                if key in seen_numbers:
                    heading = None
                elif top is not None and chapter is not None and not chapter <= top <= chapter + MAX_CHAPTER_STEP:
                    heading = None
                elif top is not None and not heading[0].startswith("Chapter") and (back_matter or chapter_style and "." not in key):
                    heading = None  # a reference number, or a list item under "Chapter N" numbering
                elif top is not None and chapter is not None and top > chapter and upcoming.next_top(page_no, i, key) == chapter:
                    heading = None  # the numbering goes on with the current chapter: a table row or list item
                else:
                    seen_numbers.add(key)
                    if top is not None:
                        chapter = top
                    elif len(key) == 1 and key.isalpha():
                        last_letter = key
            if heading is not None:
                flush(True)
                number, title = heading
                sub = ""
                if number.startswith("Chapter"):
                    chapter_style, back_matter = True, False
                elif number.startswith("Appendix") or not number and title.lower() in _BACK_MATTER:
                    back_matter = True
                pending_chapter = number.split(" ")[0] in ("Chapter", "Appendix", "Part") and not title
                after_break = True
                continue
            nxt = next((ln for ln in lines[i + 1:] if ln), "")
            if after_break and nxt[:1].isupper() and is_subheading(line, typical) and not is_subheading(nxt, typical):
                flush(True)
                sub = line
                paragraph.append(line)  # the sub-heading's words belong to its chunk's text
                flush(True)
                after_break = True
                continue
            paragraph.append(line)
            after_break = line.endswith((".", "!", "?", ":"))
            # A short line ending a sentence closes a paragraph (PDFs have no blank lines).
            if typical and len(line) < 0.7 * typical and line.endswith((".", "!", "?", ":")):
                flush(True)
        # A paragraph running over the page break continues on the next page's first block.
        flush(False)
    return blocks


_ENTRY_END = re.compile(r"(?:\s|\.)(?:\d{1,4}|[ivxlc]{1,6})$")
MIN_CONTENTS_LINES = 2
CONTENTS_SHARE = 0.5


def is_contents_page(lines: list[str]) -> bool:
    """A page of a table of contents or a list of figures: most lines end in a page number."""
    text = [line for line in lines if line]
    entries = sum(1 for line in text if _ENTRY_END.search(line) or LEADERS.search(line))
    return entries >= MIN_CONTENTS_LINES and entries >= CONTENTS_SHARE * len(text)


def _wrapped_entry(lines: list[str], i: int) -> bool:
    """A contents entry too long for one line: the next line ends in leaders and a page number."""
    nxt = next((ln for ln in lines[i + 1 :] if ln), "")
    return bool(_LEADER_ENTRY.search(nxt)) and len(nxt.split()) <= MAX_SUBHEADING_WORDS + 8


def _label_like(line: str, typical: float) -> bool:
    """A line that could be labels in a figure: no sentence, not a heading or a table row under its
    header, and either mostly numbers and single letters (ticks, sizes) or a few short words."""
    if not line or marker_index(line) is not None or line.endswith((".", "?", "!", ":", ";", ",", "-")):
        return False
    if TABLE_ROW.match(line):
        if ": " in line:  # a row under a header ("Dice: 0.71 | ..."): a table, which answers questions
            return False
    elif detect_heading(line) is not None:
        return False
    words = line.replace("|", " ").split()
    if sum(1 for w in words if re.search(r"\d", w) or len(w) == 1) >= LINE_NUMERIC_SHARE * len(words):
        return True
    return len(words) <= MAX_LABEL_WORDS and not (typical and len(line) > LABEL_SHARE * typical)


def label_lines(lines: list[str], typical: float) -> list[bool]:
    """Which lines belong to a run of figure or diagram labels ("copy and crop", "572 x 572", "64").

    Text drawn inside a figure comes out as a run of short lines without a sentence: at least
    MIN_LABEL_RUN of them with numbers among their words, or MIN_WORD_LABEL_RUN without. It
    answers nothing and would match a question's terms, so it becomes a block of its own.
    """
    like = [_label_like(line, typical) for line in lines]
    out = [False] * len(lines)
    i = 0
    while i < len(lines):
        if not like[i]:
            i += 1
            continue
        j = i
        while j < len(lines) and like[j]:
            j += 1
        words = [w for line in lines[i:j] for w in line.replace("|", " ").split()]
        numeric = sum(1 for w in words if re.search(r"\d", w) or len(w) == 1)
        near = lines[max(0, i - TABLE_CAPTION_REACH) : i] + lines[j : j + TABLE_CAPTION_REACH]
        # Cells of a table read one per line look the same; a table's caption tells them apart.
        if any(_TABLE_CAPTION.match(line) for line in near):
            pass
        elif j - i >= MIN_WORD_LABEL_RUN or j - i >= MIN_LABEL_RUN and numeric >= LABEL_NUMERIC_SHARE * len(words):
            out[i:j] = [True] * (j - i)
        i = j
    return out


class _Candidates:
    """Where the numbered heading candidates of a document are, to look ahead from one of them."""

    def __init__(self, found: list[tuple[tuple[int, int], str]]) -> None:
        self.positions = [pos for pos, _ in found]
        self.keys = [key for _, key in found]

    def next_top(self, page_no: int, line: int, key: str) -> int | None:
        """The chapter of the next candidate after (page_no, line) with another number than `key`."""
        start = bisect.bisect_right(self.positions, (page_no, line))
        other = next((k for k in self.keys[start:] if k != key), None)
        return top_number(other) if other is not None else None


def _numbered_candidates(detected: list[list[tuple[str, str] | None]]) -> _Candidates:
    """The numbered headings among each page's detected lines, by (page, line)."""
    found = [
        ((page_no, i), number_key(heading[0]))
        for page_no, headings in enumerate(detected, start=1)
        for i, heading in enumerate(headings)
        if heading is not None and heading[0]
    ]
    return _Candidates(found)


def _next_letter(letter: str) -> str:
    return chr(ord(letter) + 1) if letter else ""


def navigation_text(text: str) -> bool:
    """Text made of contents or index entries ("asn1_copy_node . . . . 11"), found by their shape
    wherever their heading went undetected (an unnumbered "Function and Data Index")."""
    entries = len(_LEADER_ENTRY.findall(text))
    if not entries:
        return False
    words = len(re.findall(r"\w+", _LEADER_ENTRY.sub(" ", text)))
    return words <= INDEX_WORDS_PER_ENTRY * entries
