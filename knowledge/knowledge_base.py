"""One knowledge base of a workspace: its store, its registry and its lexical index."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gg_research.knowledge.document_parts import DocRecord
from gg_research.knowledge.errors import DocumentNotFound
from gg_research.knowledge.lexical import INDEX_FORMAT, META_NAME, LexicalIndex, fingerprint
from gg_research.knowledge.store import ChromaStore, lexical_folder, store_exists

if TYPE_CHECKING:
    from gg_research.config import KnowledgeSection


class KnowledgeBase:
    def __init__(self, workspace: Path, config: KnowledgeSection) -> None:
        self.workspace = Path(workspace)
        self.config = config
        self.lexical_dir = lexical_folder(self.workspace, config.store, config.collection)
        self._store: ChromaStore | None = None
        self._lexical: LexicalIndex | None = None

    def exists(self) -> bool:
        return store_exists(self.workspace, self.config.store)

    @property
    def store(self) -> ChromaStore:
        """Opens (and for a persistent store, creates) the Chroma store on first use."""
        if self._store is None:
            self._store = ChromaStore(self.workspace, self.config.store, self.config.collection, self.config.embedder)
        return self._store

    def documents(self) -> list[DocRecord]:
        if not self.exists():
            return []
        return sorted(self.store.registry().values(), key=lambda r: r.source)

    def find(self, ref: str) -> DocRecord:
        """A document by doc id prefix, source path or file name; exactly one must match."""
        docs = self.documents()
        exact = [d for d in docs if d.doc_id == ref or d.source == ref]
        matches = exact or [d for d in docs if d.doc_id.startswith(ref) or ref in (Path(d.source).name, Path(d.source).stem)]
        if not matches:
            raise DocumentNotFound(f"{ref}: no document of collection {self.config.collection!r} has this doc id (prefix) or source")
        if len(matches) > 1:
            names = ", ".join(f"{d.doc_id} ({d.source})" for d in matches[:5])
            raise DocumentNotFound(f"{ref}: matches {len(matches)} documents ({names}); give more of the doc id")
        return matches[0]

    def remove(self, ref: str) -> DocRecord:
        record = self.find(ref)
        # Unregister first: from that moment search no longer sees it, even if the delete dies.
        self.store.unregister(record.source)
        if not any(r.doc_id == record.doc_id for r in self.store.registry().values()):
            self.store.delete_doc_chunks(record.doc_id)
        self.rebuild_lexical()
        return record

    def current_fingerprint(self) -> str:
        return fingerprint(r.doc_id for r in self.store.registry().values()) if self.exists() else fingerprint([])

    def lexical_is_current(self, fp: str) -> bool:
        import json

        try:
            meta = json.loads((self.lexical_dir / META_NAME).read_text())
        except (OSError, ValueError):
            return False
        return isinstance(meta, dict) and meta.get("fingerprint") == fp and meta.get("format") == INDEX_FORMAT

    def rebuild_lexical(self) -> LexicalIndex:
        ids, texts, kinds = self.store.chunk_texts()
        index = LexicalIndex.build(ids, texts, self.current_fingerprint(), kinds)
        try:
            index.save(self.lexical_dir)
        except OSError:
            pass  # a read-only folder only costs a rebuild in memory next time
        self._lexical = index
        return index

    def lexical(self, fp: str) -> LexicalIndex:
        """The lexical index matching registry fingerprint `fp`, loaded or rebuilt as needed."""
        if self._lexical is not None and self._lexical.fingerprint == fp:
            return self._lexical
        loaded = LexicalIndex.load(self.lexical_dir)
        if loaded is not None and loaded.fingerprint == fp:
            self._lexical = loaded
            return loaded
        return self.rebuild_lexical()
