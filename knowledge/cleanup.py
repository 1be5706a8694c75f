"""Text clean-up for extracted pages: ligatures, running headers/footers, page numbers, hyphenation.

Theses repeat a header ("Chapter 3. Training") and a page number on every page; left in, they
land inside chunks, pollute BM25 and split sentences. Words hyphenated at line ends would never
match a query.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

_PAGE_NUMBER = re.compile(
    r"^\s*(?:[-–—]\s*)?(?:page\s+)?(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*(?:/|of)\s*\d{1,4})?(?:\s*[-–—])?\s*$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
# "Chapter 3" keeps its number in a line's signature: chapter openings are not a running header.
_CHAPTER_LINE = re.compile(r"^((?:chapter|appendix|part)\s+(?:\d+|[ivxlc]+|[a-h])\b)(.*)$", re.IGNORECASE)
# A word broken at a line end ("seg-\nmentation", "PAS-\nCAL") or, once lines were joined,
# mid-line ("PAS- CAL"). The left part may itself end a compound ("pixels-to-\npixels").
_HYPHEN_BREAK = re.compile(r"(?P<pre>[A-Za-zÀ-ÿ]+-)?(?P<left>[A-Za-zÀ-ÿ]{2,})[-\u00ad](?P<gap>\n[ \t]*| )(?P<right>[A-Za-zÀ-ÿ]{2,})(?P<post>-)?")
_WORDS = re.compile(r"[A-Za-zÀ-ÿ]+(?:-[A-Za-zÀ-ÿ]+)*")
_SOFT_HYPHEN = "\u00ad"
EDGE_LINES = 3  # lines at the top and at the bottom of a page where headers and footers live


@lru_cache(maxsize=1)
def _script_chars() -> re.Pattern[str]:
    """Superscript and subscript characters: NFKC would fold "284²" into "2842"."""
    chars = [
        chr(c) for c in (*range(0xA0, 0x100), *range(0x1D00, 0x1DC0), *range(0x2070, 0x20A0))
        if unicodedata.decomposition(chr(c)).startswith(("<super>", "<sub>"))
    ]
    return re.compile("([" + re.escape("".join(chars)) + "]+)")


def normalise(text: str) -> str:
    """NFKC folds ligatures (ﬁ ﬂ ﬀ) and full-width forms, sparing super- and subscripts; drop NULs."""
    parts = _script_chars().split(text)
    # split() with a group puts the kept runs at odd indices.
    text = "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return text


def is_page_number(line: str) -> bool:
    return bool(_PAGE_NUMBER.match(line))


def _signature(line: str) -> str:
    # Page numbers inside a header ("Chapter 3 — 47") vary; compare with digits masked, except a
    # chapter's own number: "Chapter 1", "Chapter 2" opening their chapters are not one header.
    text = " ".join(line.lower().split())
    m = _CHAPTER_LINE.match(text)
    if m:
        return m.group(1) + _DIGITS.sub("#", m.group(2))
    return _DIGITS.sub("#", text)


def remove_running_lines(pages: list[str], min_repeats: int = 3) -> list[str]:
    """Drop lines at the page edges that repeat on many pages, and bare page numbers there."""
    split = [p.split("\n") for p in pages]
    counts: Counter[str] = Counter()
    for lines in split:
        edge = {_signature(line) for line in _edge_lines(lines) if line.strip()}
        counts.update(edge)
    # A chapter's running header repeats only over that chapter's pages, so a share of the whole
    # document is too strict: three pages make a header, two when it carries a page number.
    repeated = {
        sig
        for sig, n in counts.items()
        if sig.strip("# ") and (n >= min_repeats or (n >= 2 and sig.endswith("#")))
    }
    out = []
    for lines in split:
        nonempty = [i for i, line in enumerate(lines) if line.strip()]
        n = _edge_count(len(nonempty))
        edge_idx = set(nonempty[:n] + nonempty[-n:])
        kept = [
            line
            for i, line in enumerate(lines)
            if not (i in edge_idx and (_signature(line) in repeated or is_page_number(line)))
        ]
        out.append("\n".join(kept))
    return out


def _edge_count(n_lines: int) -> int:
    # A short page (a slide, a chapter's last page) is mostly body: look at fewer edge lines.
    return max(1, min(EDGE_LINES, n_lines // 4))


def _edge_lines(lines: list[str]) -> list[str]:
    nonempty = [line for line in lines if line.strip()]
    n = _edge_count(len(nonempty))
    return nonempty[:n] + nonempty[-n:]


def vocabulary(pages: list[str]) -> Counter[str]:
    """Lower-cased words and hyphenated compounds of the document, to settle line-end hyphens."""
    return Counter(w.lower() for p in pages for w in _WORDS.findall(p))


def dehyphenate(text: str, vocab: Counter[str] | None = None) -> str:
    """Join words broken at a line end; keep the hyphen of a genuine compound.

    The document decides when it can: a joined form seen elsewhere ("segmentation") joins, a
    hyphenated one seen elsewhere ("state-of-the-art") keeps its hyphen. Otherwise a lower-case
    continuation joins, and a part of a longer compound ("pixels-to-|pixels") keeps its hyphen.
    A hyphen followed by a space inside a line ("PAS- CAL") joins only on the document's word.
    """
    vocab = vocab if vocab is not None else vocabulary([text])

    def fix(m: re.Match[str]) -> str:
        pre, left, gap, right, post = m.group("pre") or "", m.group("left"), m.group("gap"), m.group("right"), m.group("post") or ""
        joined, hyphened = (left + right).lower(), f"{left}-{right}".lower()
        if vocab.get(joined) and not vocab.get(hyphened):
            return f"{pre}{left}{right}{post}"
        if gap == " ":
            return m.group(0)  # a dash before a space: "pre- and post-processing"
        if vocab.get(hyphened) or pre or post or right[0].isupper():
            return f"{pre}{left}-{right}{post}"  # a genuine compound, whole on one line
        return f"{pre}{left}{right}{post}"

    text = _HYPHEN_BREAK.sub(fix, text)
    return text.replace(_SOFT_HYPHEN, "")


def join_hyphen_across_pages(pages: list[str]) -> list[str]:
    """A word split over a page break moves whole onto the earlier page."""
    pages = list(pages)
    for i in range(len(pages) - 1):
        head = pages[i].rstrip()
        m = re.search(r"([A-Za-zÀ-ÿ]{2,})-$", head)
        nxt = pages[i + 1].lstrip()
        n = re.match(r"([a-zà-ÿ]{2,})([.,;:!?)]?)\s*", nxt)
        if m and n:
            pages[i] = head[: m.start()] + m.group(1) + n.group(1) + n.group(2)
            pages[i + 1] = nxt[n.end():]
    return pages


def clean_pages(pages: list[str]) -> list[str]:
    pages = [normalise(p) for p in pages]
    pages = remove_running_lines(pages)
    pages = join_hyphen_across_pages(pages)
    vocab = vocabulary(pages)
    return [dehyphenate(p, vocab) for p in pages]
