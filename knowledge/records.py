"""Plain data passed between the stages of ingest: extracted pages, text blocks, chunks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ExtractedDocument:
    """What a reader returns: cleaned-up text per page (1-based page numbers)."""

    source: str
    title: str
    kind: str  # "pdf", "markdown", "text"
    pages: list[str]
    # Sections that readers know structurally (Markdown headings) come as ready-made blocks.
    blocks: list["Block"] | None = None


@dataclass
class Block:
    """A run of text on one page inside one section; `paragraph_end` marks a paragraph break after it."""

    text: str
    page: int
    section_number: str = ""
    section_title: str = ""
    paragraph_end: bool = True
    subheading: str = ""  # an unnumbered sub-heading inside the section ("Loss Function")

    @property
    def section(self) -> str:
        return " ".join(p for p in (self.section_number, self.section_title) if p)


@dataclass
class Chunk:
    index: int
    text: str
    page: int
    page_end: int
    section_number: str = ""
    section_title: str = ""
    tokens: int = 0
    subheading: str = ""
    # Text before the first heading of a document that has headings: a title page, an author line.
    front_matter: bool = False

    @property
    def section(self) -> str:
        return " ".join(p for p in (self.section_number, self.section_title) if p)

    def embedding_text(self) -> str:
        return with_heading(self.text, self.section_title, self.subheading)


def with_heading(text: str, section_title: str, subheading: str = "") -> str:
    """The text as it is embedded and indexed: under its section title and sub-heading.

    A one-sentence answer ("We used AdamW ...") rarely names what it answers; its heading
    ("Training: Optimizer") does. The stored and shown text stays the chunk's own.
    """
    head = ": ".join(h for h in (section_title, subheading) if h and not text.startswith(h))
    return f"{head}\n{text}" if head else text


@dataclass
class DocRecord:
    """One registry entry: a document whose chunks are completely written and visible to search."""

    doc_id: str
    source: str
    title: str
    kind: str
    pages: int
    chunks: int
    sections: int
    ingested_at: str
    embedder: str
    text_hash: str = ""  # of the extracted text: the same text under other bytes is the same document
