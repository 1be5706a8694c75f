"""Text clean-up for extracted pages: ligatures, running headers/footers, page numbers, hyphenation.

Theses repeat a header ("Chapter 3. Training") and a page number on every page; left in, they
land inside chunks, pollute BM25 and split sentences. Words hyphenated at line ends would never
match a query.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_PAGE_NUMBER = re.compile(
    r"^\s*(?:[-–—]\s*)?(?:page\s+)?(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*(?:/|of)\s*\d{1,4})?(?:\s*[-–—])?\s*$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
# A word broken at a line end: "seg-\nmentation". The continuation must start lower-case, so
# "Fig-\nure" joins but "G-\nCode" style compounds across lines keep their hyphen.
_HYPHEN_BREAK = re.compile(r"([A-Za-zÀ-ÿ]{2,})[-\u00ad]\n[ \t]*([a-zà-ÿ]{2,})")
_SOFT_HYPHEN = "\u00ad"
EDGE_LINES = 3  # lines at the top and at the bottom of a page where headers and footers live


def normalise(text: str) -> str:
    """NFKC folds ligatures (ﬁ ﬂ ﬀ) and full-width forms; drop NULs and soft hyphens inside lines."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return text


def is_page_number(line: str) -> bool:
    return bool(_PAGE_NUMBER.match(line))


def _signature(line: str) -> str:
    # Page numbers inside a header ("Chapter 3 — 47") vary; compare with digits masked.
    return _DIGITS.sub("#", " ".join(line.lower().split()))


def remove_running_lines(pages: list[str], min_repeats: int = 3) -> list[str]:
    """Drop lines at the page edges that repeat on many pages, and bare page numbers there."""
    split = [p.split("\n") for p in pages]
    counts: Counter[str] = Counter()
    for lines in split:
        edge = {_signature(l) for l in _edge_lines(lines) if l.strip()}
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
        nonempty = [i for i, l in enumerate(lines) if l.strip()]
        n = _edge_count(len(nonempty))
        edge_idx = set(nonempty[:n] + nonempty[-n:])
        kept = [
            l
            for i, l in enumerate(lines)
            if not (i in edge_idx and (_signature(l) in repeated or is_page_number(l)))
        ]
        out.append("\n".join(kept))
    return out


def _edge_count(n_lines: int) -> int:
    # A short page (a slide, a chapter's last page) is mostly body: look at fewer edge lines.
    return max(1, min(EDGE_LINES, n_lines // 4))


def _edge_lines(lines: list[str]) -> list[str]:
    nonempty = [l for l in lines if l.strip()]
    n = _edge_count(len(nonempty))
    return nonempty[:n] + nonempty[-n:]


def dehyphenate(text: str) -> str:
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
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
    return [dehyphenate(p) for p in pages]
