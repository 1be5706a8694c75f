"""Which lines of page text are headings, by their shape alone.

A heading is a short line that starts with a section number ("3.3.4 Training schedule"),
"Chapter 3 ..." (title on the same or the next line), "Appendix A ...", or a well-known
unnumbered title (Abstract, References, ...); a lettered appendix ("B More Results"), a heading
run into its first sentence, and an unnumbered sub-heading ("Loss Function") are told here too.
Whether a heading-shaped line fits the document's numbering so far is for `knowledge.sections`
to say.
"""

from __future__ import annotations

import re

_NUMBERED = re.compile(r"^(?P<num>\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(?P<title>[A-Z][^\n]*)$")
_LETTERED = re.compile(r"^(?P<num>[A-H](?:\.\d{1,2}){1,4})\.?\s+(?P<title>[A-Z][^\n]*)$")
# "A. Upper Bounds on IU", "B More Results": a lettered appendix, accepted only where appendices
# can be (after the references, after an "Appendix" heading, or right after the letter before).
_LETTER = re.compile(r"^(?P<num>[A-H])(?:\.|\s)\s*(?P<title>[A-Z][^\n]*)$")
_CHAPTER = re.compile(r"^(?P<kind>chapter|appendix|part)\s+(?P<num>\d{1,2}|[IVXLC]{1,6}|[A-H])\b[.:—–-]?\s*(?P<title>.*)$", re.IGNORECASE)
# Table-of-contents and list-of-figures lines: dotted leaders, or a title ending in a page number.
_SENTENCE_INSIDE = re.compile(r"[a-z][.!?]\s+[A-Z]")  # "reviews networks. Chapter 3 describes": prose
LEADERS = re.compile(r"(?:\.\s*){4,}|…")
_TRAILING_PAGE = re.compile(r"\s\d{1,4}$")
# Bibliography shapes: "Long, J., Shelhamer", "[Accessed on:", "28 November 2021]".
CITATION = re.compile(r"\b[A-Z][A-Za-z'-]+,\s+(?:[A-Z]\.|[A-Z][a-z]+\b,)|\[|\]|\bet al\b|https?:|doi\b", re.IGNORECASE)
_UNNUMBERED = {
    "abstract", "acknowledgements", "acknowledgments", "introduction", "conclusion", "conclusions",
    "references", "bibliography", "summary", "preface", "contents", "table of contents", "appendix",
    "appendices", "related work", "discussion", "future work", "list of figures", "list of tables",
    "zusammenfassung",
}
# A table row as the PDF reader writes it: "Learning rate: 1e-4 | Epochs: 5".
TABLE_ROW = re.compile(r"^[^|]+ \| [^|]+(?: \| [^|]+)*$")
MAX_HEADING_WORDS = 12
MAX_HEADING_CHARS = 90
MAX_SUBHEADING_WORDS = 6


def detect_heading(line: str) -> tuple[str, str] | None:
    """(number, title) when `line` looks like a section heading, else None.

    Lettered appendices without a sub-number ("B More Results") are left to `page_blocks`,
    which knows whether the document has reached its back matter.
    """
    text = " ".join(line.split())
    if not text or len(text) > MAX_HEADING_CHARS or LEADERS.search(text) or TABLE_ROW.match(text):
        return None
    m = _CHAPTER.match(text)
    if m:
        title = m.group("title").strip()
        if title and (
            title.endswith((".", ",", ";")) or len(title.split()) > MAX_HEADING_WORDS or _SENTENCE_INSIDE.search(title)
            or CITATION.search(title) or _TRAILING_PAGE.search(title)
        ):
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


def letter_heading(line: str) -> tuple[str, str] | None:
    """(letter, title) of a line shaped as a lettered appendix ("B More Results"), else None;
    whether one can stand where it is (in the back matter, after the letter before) is the caller's."""
    text = " ".join(line.split())
    m = _LETTER.match(text)
    if not m or len(text) > MAX_HEADING_CHARS or LEADERS.search(text) or not _plausible_title(m.group("title")):
        return None
    return m.group("num"), m.group("title").strip()


def _plausible_title(title: str) -> bool:
    words = title.split()
    if not words or len(words) > MAX_HEADING_WORDS:
        return False
    if title.rstrip().endswith((".", ",", ";", ":")) and not title.rstrip().endswith("..."):
        return False
    if any("_" in w for w in words):  # identifiers (a format table's "4 CARD32 N_ENTRIES")
        return False
    if CITATION.search(title) or _TRAILING_PAGE.search(title):  # a reference, or a contents line
        return False
    # Table rows ("1 Baseline 0.61 0.58") are mostly numbers; headings are mostly words.
    numeric = sum(1 for w in words if re.fullmatch(r"[\d.,%±+\-()]+", w))
    return numeric <= len(words) // 3


def number_key(number: str) -> str:
    """"Chapter 3" and "3" are the same section number; "Appendix A" and "A" too."""
    parts = number.split(" ")
    return parts[-1].upper() if parts[0] in ("Chapter", "Appendix") else number.upper()


def top_number(number: str) -> int | None:
    """The chapter a numbered heading belongs to ("3.2" -> 3, "Chapter 4" -> 4); None for others."""
    key = number_key(number).split(".")[0]
    return int(key) if key.isdigit() else None


# Words that open a sentence, not a heading: where one follows a heading's words on the same line,
# the heading ends there ("1.1 Motivation The aim of this project ...").
_STARTERS = frozenset(
    "The This These That Those In We Our It Its A An To As For Each There Here With Since Because When After "
    "Before Although While Given First Firstly Finally Most Many Some All One Several On At By From If Unlike "
    "Following Chapter Section Figure Table".split()
)
_RUN_IN = re.compile(r"^(?P<num>(?:chapter|appendix)\s+(?:\d{1,2}|[A-H])|\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(?P<rest>[A-Z].*)$", re.IGNORECASE)
_SUBNUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,2})+$")
MIN_SENTENCE_WORDS = 4
MAX_SHORT_HEADING_WORDS = 7


def split_run_in(line: str) -> list[str]:
    """A heading that runs into its first sentence (or into the next heading), cut into lines.

    "Chapter 3 Objectives analysis 3.1 Aims The aim ..." -> ["Chapter 3 Objectives analysis",
    "3.1 Aims", "The aim ..."]. The heading ends before a numbered sub-heading of its own number,
    or before a word that opens a sentence followed by at least a few more words. Lines that are
    headings already, or that do not start with a number, come back as they are; whether a cut
    line is a heading at all is still for the numbering checks to say.
    """
    text = " ".join(line.split())
    m = _RUN_IN.match(text)
    if not m:
        return [line]
    words = m.group("rest").split()
    if len(words) <= MAX_SHORT_HEADING_WORDS and detect_heading(text) is not None:
        return [line]  # a heading of its own line; a longer "title" may be a heading and its sentence
    top = m.group("num").split()[-1].split(".")[0]
    for j in range(1, min(len(words), MAX_HEADING_WORDS + 1)):
        word = words[j]
        if _SUBNUMBER.match(word) and word.split(".")[0] == top:
            cut = j
        elif word in _STARTERS and len(words) - j >= MIN_SENTENCE_WORDS:
            cut = j
        elif (word[:1].isupper() and word[1:].islower() and words[j - 1][:1].islower()
              and len(words) > j + 1 and words[j + 1][:1].islower() and len(words) - j >= MIN_SENTENCE_WORDS):
            cut = j  # a sentence-case heading ("Objectives analysis") before a capitalised sentence
        else:
            continue
        head = f"{m.group('num')} {' '.join(words[:cut])}"
        if detect_heading(head) is None:
            return [line]
        return [head, *split_run_in(" ".join(words[cut:]))]
    return [line]


def is_subheading(line: str, typical: float) -> bool:
    """A short title-like line of its own ("Data Transforms", "Loss Function")."""
    words = line.split()
    if not words or len(words) > MAX_SUBHEADING_WORDS or (typical and len(line) > 0.6 * typical):
        return False
    if not line[0].isupper() or line.endswith((".", ",", ";", ":", "-", "?", "!")) or TABLE_ROW.match(line):
        return False
    if any(ch.isdigit() for ch in line) or CITATION.search(line) or re.search(r"[=<>+*/^|]", line):
        return False
    # Title case or a single capitalised phrase; a sentence fragment has several lower-case words.
    small = {"a", "an", "the", "of", "and", "or", "for", "to", "in", "on", "with", "by", "vs", "at"}
    lower = [w for w in words[1:] if w[0].islower() and w not in small]
    return len(lower) <= 1
