"""Which reader handles a file: by its first bytes, then by its suffix."""

from __future__ import annotations

from pathlib import Path

from gg_research.knowledge.errors import DocumentError
from gg_research.knowledge.notes import MarkdownReader, TextReader
from gg_research.knowledge.pdf import PypdfReader
from gg_research.knowledge.protocols import DocumentReader

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


SUPPORTED_SUFFIXES = (".pdf", *MARKDOWN_SUFFIXES, ".txt", ".text", ".rst")


def expand_paths(paths: list[Path]) -> list[Path]:
    """Folders become the supported files under them (sorted, hidden ones skipped); files stay as given."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(
                    p for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        else:
            out.append(path)
    return out
