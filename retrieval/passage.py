"""A retrieved passage and its citation (what the ledger records and the report shows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any


@dataclass
class Passage:
    chunk_id: str
    doc_id: str
    source: str
    page: int
    page_end: int
    section: str
    text: str
    score: float
    title: str = ""  # the document's title (its PDF metadata, a note's first heading, else its file name)
    kind: str = "body"  # document_parts.CHUNK_KINDS

    def document(self) -> str:
        """The document as prompts and tools name it: its title, else its file name, never its path.

        The source is a path on the researcher's machine; it stays in the local ledger.
        """
        return self.title.strip() or PurePath(self.source).name

    def key(self) -> str:
        """The citation key shown in prompts and accepted back from proposers: the chunk id."""
        return self.chunk_id

    def citation(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "document": self.document(),
            "page": self.page,
            "page_end": self.page_end,
            "section": self.section,
            "text": self.text,
            "score": self.score,
            "kind": self.kind,
        }

    def where(self) -> str:
        """"GG-Net dissertation pp. 14-15, §3.3.4 Training schedule" for headers and listings."""
        pages = f"p. {self.page}" if self.page_end in (self.page, 0) else f"pp. {self.page}-{self.page_end}"
        section = f", §{self.section}" if self.section else ""
        kind = f" [{self.kind}]" if self.kind and self.kind != "body" else ""
        return f"{self.document()} {pages}{section}{kind}"

    @classmethod
    def from_hit(cls, hit: dict[str, Any], score: float) -> Passage:
        meta = hit["meta"] or {}
        return cls(
            chunk_id=hit["id"],
            doc_id=str(meta.get("doc_id", hit["id"].split(":")[0])),
            source=str(meta.get("source", "")),
            page=int(meta.get("page", 0)),
            page_end=int(meta.get("page_end", meta.get("page", 0))),
            section=str(meta.get("section", "")),
            text=hit["text"] or "",
            score=float(score),
            title=str(meta.get("title", "")),
            kind=str(meta.get("kind", "body")),
        )
