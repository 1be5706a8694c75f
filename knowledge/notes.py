"""Markdown and plain-text notes: one "page"; Markdown `#` headings become sections."""

from __future__ import annotations

import re
from pathlib import Path

from gg_research.knowledge.cleanup import normalise
from gg_research.knowledge.document_parts import Block, ExtractedDocument
from gg_research.knowledge.errors import DocumentError

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_NUMBER_PREFIX = re.compile(r"^((?:\d{1,2}|[A-Z])(?:\.\d{1,2}){0,4})\.?\s+(.+)$")


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise DocumentError(path, "binary file, not text (expected PDF, Markdown or plain text)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(path, f"not UTF-8 text (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise DocumentError(path, "no text in the file")
    return normalise(text)


class TextReader:
    kind = "text"

    def read(self, path: Path, data: bytes) -> ExtractedDocument:
        text = _decode(path, data)
        return ExtractedDocument(source=str(path), title=path.stem, kind=self.kind, pages=[text])


class MarkdownReader:
    """Headings (`#`..`######`) start sections; a numbered heading keeps its number apart."""

    kind = "markdown"

    def read(self, path: Path, data: bytes) -> ExtractedDocument:
        text = _decode(path, data)
        blocks: list[Block] = []
        number, title, doc_title = "", "", ""
        paragraph: list[str] = []
        in_fence = False

        def flush() -> None:
            body = " ".join(" ".join(paragraph).split())
            if body:
                blocks.append(Block(body, 1, number, title, True))
            paragraph.clear()

        for line in text.split("\n"):
            if line.lstrip().startswith("```"):
                in_fence = not in_fence
            m = None if in_fence else _MD_HEADING.match(line)
            if m:
                flush()
                heading = m.group(2).strip()
                n = _NUMBER_PREFIX.match(heading)
                number, title = (n.group(1), n.group(2)) if n and any(c.isdigit() for c in n.group(1)) else ("", heading)
                if not doc_title and len(m.group(1)) == 1:
                    doc_title = heading
            elif not line.strip():
                flush()
            else:
                paragraph.append(line.strip())
        flush()
        if not blocks:
            raise DocumentError(path, "no text in the file (only headings)")
        return ExtractedDocument(source=str(path), title=doc_title or path.stem, kind=self.kind, pages=[text], blocks=blocks)
