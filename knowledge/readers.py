"""Which reader handles a file: by its first bytes, then by its suffix."""

from __future__ import annotations

from pathlib import Path

from knowledge.errors import DocumentError
from knowledge.notes import MarkdownReader, TextReader
from knowledge.pdf import PypdfReader
from knowledge.protocols import DocumentReader

MARKDOWN_SUFFIXES = (".md", ".markdown")
TEXT_SUFFIXES = (".txt", ".text", ".rst", "")


def reader_for(path: Path, data: bytes) -> DocumentReader:
    suffix = path.suffix.lower()
    if suffix == ".pdf" or data[:1024].lstrip().startswith(b"%PDF-"):
        return PypdfReader()
    if suffix in MARKDOWN_SUFFIXES:
        return MarkdownReader()
    if suffix in TEXT_SUFFIXES:
        return TextReader()
    raise DocumentError(path, f"unsupported file type {suffix!r} (ingest PDF, Markdown or plain-text files)")
