"""A retrieved passage and its citation (what the ledger records and the report shows)."""

from __future__ import annotations

from dataclasses import dataclass
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

    def key(self) -> str:
        """The citation key shown in prompts and accepted back from proposers: the chunk id."""
        return self.chunk_id

    def citation(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "page": self.page,
            "page_end": self.page_end,
            "section": self.section,
            "text": self.text,
            "score": self.score,
        }

    def where(self) -> str:
        """"thesis.pdf p. 14-15, §3.3.4 Training schedule" for headers and listings."""
        pages = f"p. {self.page}" if self.page_end in (self.page, 0) else f"pp. {self.page}-{self.page_end}"
        section = f", §{self.section}" if self.section else ""
        return f"{self.source} {pages}{section}"

    @classmethod
    def from_hit(cls, hit: dict[str, Any], score: float) -> "Passage":
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
        )
