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
    blocks: list[Block] | None = None
    # The PDF's own outline (bookmarks), in document order; None when the file has none.
    outline: list[OutlineEntry] | None = None


@dataclass(frozen=True)
class OutlineEntry:
    """One bookmark: its title as the author wrote it, the 1-based page it points to, its depth (0 = top)."""

    title: str
    page: int
    level: int


@dataclass
class Block:
    """A run of text on one page inside one section; `paragraph_end` marks a paragraph break after it."""

    text: str
    page: int
    section_number: str = ""
    section_title: str = ""
    paragraph_end: bool = True
    subheading: str = ""  # an unnumbered sub-heading inside the section ("Loss Function")
    kind: str = ""  # "figures" for a run of figure or diagram labels; else decided by the section

    @property
    def section(self) -> str:
        return " ".join(p for p in (self.section_number, self.section_title) if p)


BODY = "body"
# Kinds of text kept out of search and the prompt by default; `--include KIND` brings them back.
EXCLUDED_KINDS = ("references", "contents", "figures")
CHUNK_KINDS = (BODY, *EXCLUDED_KINDS)


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
    # What the text is: "body" (prose, tables: what answers), or "references", "contents" (tables
    # of contents, lists of figures, indexes) or "figures" (labels of a figure or diagram), which
    # search leaves out unless asked (CHUNK_KINDS).
    kind: str = "body"

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
    section_source: str = ""  # "outline" (the PDF's bookmarks), "text" (headings found in the text), "" (none)
