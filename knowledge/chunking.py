"""Section-aware chunking that fits the embedder's window.

Chunks never cross a section boundary, so each knows its section, nor an unnumbered sub-heading
("Loss Function"), so a short passage under one is not drowned in its neighbours. Inside, whole
sentences are packed up to `chunk_tokens` (counted with the embedder's own tokenizer), a chunk
prefers to end at a paragraph end once it is reasonably full, and the next chunk repeats the
last sentence(s) up to `overlap_tokens`. A sentence longer than a chunk is cut between words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import groupby
from collections.abc import Callable, Sequence

from gg_research.knowledge.document_parts import BODY, Block, Chunk
from gg_research.knowledge.sections import NAVIGATION, TABLE_ROW, navigation_text

TokenCounter = Callable[[Sequence[str]], list[int]]

# Split after . ! ? (optionally closed by a quote or bracket) before a capital, digit or bracket;
# common abbreviations ("e.g.", "Fig.", "et al.") are glued back below.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9(\[\"])")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|cf|Fig|Figs|Eq|Eqs|Sec|Tab|Ref|No|vs|et al|approx|resp|Dr|Prof|Ch)\.)$")
FULL_ENOUGH = 0.6  # share of chunk_tokens after which a paragraph end closes the chunk
REFERENCES = frozenset({"references", "bibliography", "works cited", "literature", "cited literature", "reference list"})


def block_kind(block: Block) -> str:
    """What a block's text is (document_parts.CHUNK_KINDS): by its section's title, else by its own shape."""
    title = block.section_title.strip().lower().rstrip(":")
    if title in REFERENCES:
        return "references"
    if title in NAVIGATION or navigation_text(block.text):
        return "contents"
    return block.kind or BODY


@dataclass
class _Unit:
    text: str
    page: int
    paragraph_end: bool
    tokens: int = 0


def split_sentences(text: str) -> list[str]:
    parts = [p for p in _SENTENCE_END.split(text) if p and p.strip()]
    merged: list[str] = []
    for part in parts:
        if merged and _ABBREV.search(merged[-1]):
            merged[-1] = merged[-1] + " " + part
        else:
            merged.append(part)
    return [m.strip() for m in merged]


def chunk_blocks(blocks: list[Block], count_tokens: TokenCounter, chunk_tokens: int, overlap_tokens: int) -> list[Chunk]:
    if chunk_tokens < 8:
        raise ValueError("chunk_tokens must be at least 8")
    overlap_tokens = min(overlap_tokens, chunk_tokens // 2)
    # Only where the document has headings is unsectioned text "before the first one" (a title
    # page); a note without any headings is all body.
    sectioned = any(b.section_number or b.section_title for b in blocks)
    chunks: list[Chunk] = []
    # Runs of one kind: a contents list, an index under another heading or a figure's labels get
    # chunks of their own, labelled, which search leaves out unless asked.
    for (number, title, sub, kind), group in groupby(blocks, key=lambda b: (b.section_number, b.section_title, b.subheading, block_kind(b))):
        units = _units(list(group), count_tokens, chunk_tokens)
        for piece in _fit(_pack(units, chunk_tokens, overlap_tokens), count_tokens, chunk_tokens):
            chunks.append(
                Chunk(
                    index=len(chunks),
                    text=_join(piece),
                    page=piece[0].page,
                    page_end=piece[-1].page,
                    section_number=number,
                    section_title=title,
                    subheading=sub,
                    tokens=count_tokens([_join(piece)])[0],
                    front_matter=sectioned and not (number or title),
                    kind=kind,
                )
            )
    return chunks


def _join(units: list[_Unit]) -> str:
    # A table row stays a line of its own: rows glued into one line are number soup again.
    out = ""
    for u in units:
        sep = "" if not out else "\n" if TABLE_ROW.match(u.text) or TABLE_ROW.match(out.rsplit("\n", 1)[-1]) else " "
        out += sep + u.text
    return out


def _fit(pieces: list[list[_Unit]], count_tokens: TokenCounter, limit: int) -> list[list[_Unit]]:
    """Split any piece whose joined text the tokenizer counts over `limit`.

    Sentences counted one by one can add up to less than their join (a word piece at a seam),
    and the embedder would silently cut the tail of such a chunk.
    """
    if not pieces:
        return pieces
    counts = count_tokens([_join(p) for p in pieces])
    out: list[list[_Unit]] = []
    for piece, n in zip(pieces, counts):
        if n <= limit or len(piece) == 1:
            out.append(piece)
            continue
        half = len(piece) // 2
        out.extend(_fit([piece[:half], piece[half:]], count_tokens, limit))
    return out


def _units(blocks: list[Block], count_tokens: TokenCounter, limit: int) -> list[_Unit]:
    units: list[_Unit] = []
    for block in blocks:
        sentences = split_sentences(block.text)
        for i, sentence in enumerate(sentences):
            end = block.paragraph_end and i == len(sentences) - 1
            units.append(_Unit(sentence, block.page, end))
        if TABLE_ROW.match(block.text):  # a table row is one unit, never split into "sentences"
            units[len(units) - len(sentences):] = [_Unit(block.text, block.page, block.paragraph_end)]
    counts = count_tokens([u.text for u in units]) if units else []
    out: list[_Unit] = []
    for unit, n in zip(units, counts):
        unit.tokens = n
        out.extend(_split_long(unit, count_tokens, limit) if n > limit else [unit])
    return out


def _split_long(unit: _Unit, count_tokens: TokenCounter, limit: int) -> list[_Unit]:
    """Cut an over-long sentence between words into pieces of at most `limit` tokens."""
    words = unit.text.split()
    word_tokens = count_tokens(words)
    pieces: list[_Unit] = []
    current: list[str] = []
    total = 0
    for word, n in zip(words, word_tokens):
        if current and total + n > limit:
            pieces.append(_Unit(" ".join(current), unit.page, False, total))
            current, total = [], 0
        current.append(word)
        total += n
    if current:
        pieces.append(_Unit(" ".join(current), unit.page, unit.paragraph_end, total))
    return pieces


def _pack(units: list[_Unit], limit: int, overlap: int) -> list[list[_Unit]]:
    pieces: list[list[_Unit]] = []
    current: list[_Unit] = []
    total = 0
    fresh = 0  # units in `current` that are not overlap from the previous chunk
    for unit in units:
        if current and fresh and total + unit.tokens > limit:
            pieces.append(current)
            current, total = _overlap_tail(current, overlap, limit - unit.tokens)
            fresh = 0
        current.append(unit)
        total += unit.tokens
        fresh += 1
        if unit.paragraph_end and total >= FULL_ENOUGH * limit:
            pieces.append(current)
            current, total = _overlap_tail(current, overlap, limit)
            fresh = 0
    if current and fresh:
        pieces.append(current)
    return pieces


def _overlap_tail(units: list[_Unit], overlap: int, room: int) -> tuple[list[_Unit], int]:
    tail: list[_Unit] = []
    total = 0
    for unit in reversed(units):
        if total + unit.tokens > min(overlap, room):
            break
        tail.insert(0, unit)
        total += unit.tokens
    return tail, total
