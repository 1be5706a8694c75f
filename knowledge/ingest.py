"""Ingest: files -> text -> section-aware chunks -> embeddings -> Chroma, then the registry flip.

Per file: the same bytes as a registered document are a no-op decided from the content hash
alone (no extraction, no model). Otherwise the chunks are written under the new doc id, the
registry entry for the source is upserted last (the only moment the document becomes visible,
replacing an older version of the same source in that one write), and the old version's chunks
are deleted. A bad file fails alone, with the store untouched for it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from collections.abc import Callable, Sequence

from gg_research.errors import GGError
from gg_research.knowledge.chunking import chunk_blocks
from gg_research.knowledge.document_parts import Chunk, DocRecord, ExtractedDocument
from gg_research.knowledge.errors import DocumentError
from gg_research.knowledge.knowledge_base import KnowledgeBase
from gg_research.knowledge.protocols import DocumentReader, Embedder
from gg_research.knowledge.readers import reader_for
from gg_research.knowledge.sections import page_blocks

if TYPE_CHECKING:
    from gg_research.config import KnowledgeSection

DOC_ID_CHARS = 12
# (source, stage, chunks embedded so far, chunks of this file). Stages "reading" and "loading the
# embedder" come with 0, 0 (no count yet); "embedding" with the counts.
ProgressFn = Callable[[str, str, int, int], None]


@dataclass
class FileResult:
    path: str
    status: Literal["ingested", "replaced", "unchanged", "failed"]
    source: str = ""
    doc_id: str = ""
    pages: int = 0
    chunks: int = 0
    sections: int = 0
    message: str = ""

    def summary(self) -> str:
        if self.status == "failed":
            return f"{self.message}"
        if self.status == "unchanged":
            return f"{self.source}: unchanged ({self.doc_id}){' ' + self.message if self.message else ''}"
        verb = "replaced older version" if self.status == "replaced" else "ingested"
        return f"{self.source}: {verb} as {self.doc_id}: {self.pages} pages, {self.chunks} chunks, {self.sections} sections"


@dataclass
class IngestTimings:
    """Seconds spent per stage, summed over files (the benchmark reports the embedder's share)."""

    read: float = 0.0
    chunk: float = 0.0
    embed: float = 0.0
    store: float = 0.0
    lexical: float = 0.0
    total: float = 0.0
    files: list[FileResult] = field(default_factory=list)


def doc_id_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:DOC_ID_CHARS]


def text_hash_of(doc: ExtractedDocument) -> str:
    """Of the extracted text with whitespace folded: what the knowledge base would hold."""
    pages = [" ".join(b.text.split()) for b in doc.blocks] if doc.blocks is not None else [" ".join(p.split()) for p in doc.pages]
    return hashlib.sha256("\n".join(pages).encode()).hexdigest()[:24]


def source_name(path: Path, workspace: Path) -> str:
    """The path relative to the workspace when inside it, else absolute: the registry key."""
    resolved = path.expanduser().resolve()
    try:
        return resolved.relative_to(workspace.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class Ingestor:
    """Ingests files into one knowledge base. The embedder loads on the first file that needs it."""

    def __init__(
        self,
        workspace: Path,
        config: KnowledgeSection,
        embedder: Embedder | None = None,
        embedder_factory: Callable[[], Embedder] | None = None,
        reader_factory: Callable[[Path, bytes], DocumentReader] = reader_for,
        progress: ProgressFn | None = None,
    ) -> None:
        self.workspace = Path(workspace).resolve()
        self.config = config
        self.kb = KnowledgeBase(self.workspace, config)
        self._embedder = embedder
        self._embedder_factory = embedder_factory
        self.reader_factory = reader_factory
        self.progress = progress
        self.timings = IngestTimings()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            if self._embedder_factory is not None:
                self._embedder = self._embedder_factory()
            else:
                from gg_research.knowledge.embedder import load_embedder

                self._embedder = load_embedder(self.config.embedder, self.workspace)
            self.kb.store.check_dim(self._embedder.dim)
        return self._embedder

    def ingest(self, paths: Sequence[Path | str]) -> list[FileResult]:
        start = time.perf_counter()
        store = self.kb.store  # opening checks the embedder name against the collection
        results = [self._one(Path(p)) for p in paths]
        changed = any(r.status in ("ingested", "replaced") for r in results)
        fp = self.kb.current_fingerprint()
        if changed or not self.kb.lexical_is_current(fp):
            t = time.perf_counter()
            if changed:
                store.delete_orphans()
            self.kb.rebuild_lexical()
            self.timings.lexical += time.perf_counter() - t
        self.timings.total += time.perf_counter() - start
        self.timings.files.extend(results)
        return results

    def _one(self, path: Path) -> FileResult:
        source = source_name(path, self.workspace)
        try:
            t = time.perf_counter()
            data = _read_bytes(path)
            doc_id = doc_id_of(data)
            registry = self.kb.store.registry()
            old = registry.get(source)
            if old is not None and old.doc_id == doc_id:
                return FileResult(str(path), "unchanged", source, doc_id, old.pages, old.chunks, old.sections)
            twin = next((r for r in registry.values() if r.doc_id == doc_id), None)
            if twin is not None:
                return FileResult(str(path), "unchanged", source, doc_id, twin.pages, twin.chunks, twin.sections, f"(same content as {twin.source})")
            self._stage(source, "reading")
            doc = self.reader_factory(path, data).read(path, data)
            self.timings.read += time.perf_counter() - t
            text_hash = text_hash_of(doc)
            same = next((r for r in registry.values() if r.text_hash == text_hash and r.doc_id != doc_id), None)
            if same is not None:
                # An owner-password copy, a re-saved or re-linearised file: other bytes, same text.
                note = "(same text as the registered version, other bytes)" if same.source == source else f"(same text as {same.source}, other bytes)"
                return FileResult(str(path), "unchanged", source, same.doc_id, same.pages, same.chunks, same.sections, note)
            if self._embedder is None:
                self._stage(source, "loading the embedder")
            _ = self.embedder  # loading the model once is not chunking time
            t = time.perf_counter()
            chunks = self._chunk(doc)
            self.timings.chunk += time.perf_counter() - t
            if not chunks:
                raise DocumentError(path, "no text left after clean-up")
        except DocumentError as exc:
            return FileResult(str(path), "failed", source, message=str(exc))
        except OSError as exc:
            return FileResult(str(path), "failed", source, message=f"{path}: cannot read ({exc.strerror or exc})")
        except GGError:
            raise  # the embedder or the store, not this file: the whole call stops
        except Exception as exc:  # a reader library's own bug on an odd file must not stop the other files
            reason = " ".join(str(exc).split())[:160]
            return FileResult(str(path), "failed", source, message=f"{path}: cannot extract text ({type(exc).__name__}: {reason})")
        record = self._write(source, doc_id, doc, chunks, text_hash)
        replaced = old is not None and old.doc_id != doc_id
        if replaced and not any(r.doc_id == old.doc_id for r in self.kb.store.registry().values()):
            self.kb.store.delete_doc_chunks(old.doc_id)
        return FileResult(str(path), "replaced" if replaced else "ingested", source, doc_id, record.pages, record.chunks, record.sections)

    def _chunk(self, doc: ExtractedDocument) -> list[Chunk]:
        blocks = doc.blocks if doc.blocks is not None else page_blocks(doc.pages, doc.outline)
        embedder = self.embedder
        limit = min(self.config.chunk_tokens, embedder.max_tokens)
        return chunk_blocks(blocks, embedder.count_tokens, limit, self.config.overlap_tokens)

    def _stage(self, source: str, stage: str) -> None:
        if self.progress:
            self.progress(source, stage, 0, 0)

    def _write(self, source: str, doc_id: str, doc: ExtractedDocument, chunks: list[Chunk], text_hash: str = "") -> DocRecord:
        embedder = self.embedder
        store = self.kb.store
        store.ensure_collections(embedder.dim)
        # Leftovers of an earlier attempt killed mid-write are invisible but would mix in.
        store.delete_doc_chunks(doc_id)
        step = max(1, self.config.batch_size * 4)
        total = len(chunks)
        if self.progress:
            self.progress(source, "embedding", 0, total)
        for start in range(0, total, step):
            batch = chunks[start : start + step]
            t = time.perf_counter()
            vectors = embedder.embed([c.embedding_text() for c in batch], batch_size=self.config.batch_size)
            self.timings.embed += time.perf_counter() - t
            t = time.perf_counter()
            store.add_chunks(
                [f"{doc_id}:{c.index}" for c in batch],
                vectors,
                [c.text for c in batch],
                [_chunk_meta(doc_id, source, doc.title, c) for c in batch],
            )
            self.timings.store += time.perf_counter() - t
            if self.progress:
                self.progress(source, "embedding", min(start + step, total), total)
        record = DocRecord(
            doc_id=doc_id,
            source=source,
            title=doc.title,
            kind=doc.kind,
            pages=len(doc.pages),
            chunks=total,
            sections=len({c.section for c in chunks if c.section}),
            ingested_at=_now(),
            embedder=embedder.name,
            text_hash=text_hash,
            section_source=section_source(doc, chunks),
        )
        t = time.perf_counter()
        store.register(record)  # the flip: from here on the document is visible
        self.timings.store += time.perf_counter() - t
        return record


def _chunk_meta(doc_id: str, source: str, title: str, chunk: Chunk) -> dict[str, str | int]:
    return {
        "doc_id": doc_id,
        "source": source,
        "title": title,
        "page": chunk.page,
        "page_end": chunk.page_end,
        "section": chunk.section,
        "section_number": chunk.section_number,
        "section_title": chunk.section_title,
        "subheading": chunk.subheading,
        "chunk_index": chunk.index,
        "front_matter": chunk.front_matter,
        "kind": chunk.kind,
    }


def section_source(doc: ExtractedDocument, chunks: list[Chunk]) -> str:
    """Where the document's sections came from: "outline" (the PDF's bookmarks), "text" or ""."""
    if doc.outline:
        return "outline"
    return "text" if any(c.section for c in chunks) else ""


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DocumentError(path, "no such file")
    if path.is_dir():
        raise DocumentError(path, "is a folder, not a file")
    data = path.read_bytes()
    if not data:
        raise DocumentError(path, "empty file (0 bytes)")
    return data
