"""The Chroma store: a chunk collection plus a registry collection of complete documents.

Ingest writes a document's chunks first and its registry entry last, in one single-record
upsert keyed by the source path. Search and listing only see chunks whose document is in the
registry, so a kill mid-ingest leaves nothing half-visible; the next ingest deletes the
orphans. The chunk collection's metadata names the embedder and its dimension.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from gg_research.knowledge.document_parts import BODY, DocRecord, with_heading
from gg_research.knowledge.errors import EmbedderMismatchError, StoreError
from gg_research.workspace_map import WorkspaceMap

REGISTRY_SUFFIX = ".docs"
WRITE_BATCH = 512
# Chroma persists its HNSW index every `sync_threshold` additions and replays the rest from its log
# on every open: at its default of 1000 that replay is up to a second of each one-shot search.
HNSW = {"space": "cosine", "sync_threshold": 100, "batch_size": 100}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,500}[A-Za-z0-9]$")


def is_url(store: str) -> bool:
    return store.startswith(("http://", "https://"))


def store_location(workspace: Path, store: str) -> Path | str:
    return store if is_url(store) else (workspace / store).resolve()


def lexical_folder(workspace: Path, store: str, collection: str) -> Path:
    """Beside a persistent store (`<store>-bm25/<collection>`); in the workspace's state for a server."""
    if is_url(store):
        u = urlparse(store)
        return WorkspaceMap(workspace).server_index(f"{u.hostname}_{u.port or ''}") / collection
    path = Path(store_location(workspace, store))
    return path.with_name(path.name + "-bm25") / collection


def _client(workspace: Path, store: str) -> Any:
    import chromadb
    from chromadb.config import Settings

    for name in ("chromadb", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.ERROR)
    settings = Settings(anonymized_telemetry=False)
    if is_url(store):
        u = urlparse(store)
        if not u.hostname:
            raise StoreError(f"[knowledge] store {store!r}: not a valid http(s)://host:port URL")
        try:
            return chromadb.HttpClient(
                host=u.hostname, port=u.port or (443 if u.scheme == "https" else 8000), ssl=u.scheme == "https", settings=settings
            )
        except Exception as exc:
            raise StoreError(f"Chroma server {store}: unreachable ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})") from None
    path = Path(store_location(workspace, store))
    if path.exists() and not path.is_dir():
        raise StoreError(f"[knowledge] store {path}: exists and is not a folder")
    path.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as exc:
        raise StoreError(f"Chroma store {path}: cannot open ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})") from None


def store_exists(workspace: Path, store: str) -> bool:
    """False for a persistent store never written (searching it must not create it)."""
    return is_url(store) or Path(store_location(workspace, store)).is_dir()


def _source_key(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:24]


class ChromaStore:
    """VectorStore on Chroma. `embedder` is the configured name, checked against the collection."""

    def __init__(self, workspace: Path, store: str, collection: str, embedder: str) -> None:
        if not _NAME.match(collection) or ".." in collection:
            raise StoreError(
                f"[knowledge] collection {collection!r}: a name of 3-500 characters from letters, digits, '.', '_' and '-' is needed"
            )
        self.where = str(store_location(workspace, store))
        self.collection_name = collection
        self.embedder_name = embedder
        self.client = _client(workspace, store)
        self._chunks: Any = None
        self._registry: Any = None
        self._open_existing()

    # -- collections ------------------------------------------------------------------------

    def _open_existing(self) -> None:
        from chromadb.errors import NotFoundError

        try:
            self._chunks = self.client.get_collection(self.collection_name, embedding_function=None)
        except (NotFoundError, ValueError):
            self._chunks = None
        except Exception as exc:
            raise StoreError(f"Chroma store {self.where}: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}") from None
        if self._chunks is not None:
            meta = self._chunks.metadata or {}
            stored = meta.get("embedder")
            if stored and stored != self.embedder_name:
                raise EmbedderMismatchError(
                    f"collection {self.collection_name!r} in {self.where} was built with embedder {stored!r} "
                    f"({meta.get('dim')}-d), but [knowledge] embedder is {self.embedder_name!r}; "
                    "set it back, or ingest into another collection (--kb NAME)"
                )
        self._registry = self._get_or_none(self.collection_name + REGISTRY_SUFFIX)

    def _get_or_none(self, name: str) -> Any:
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(name, embedding_function=None)
        except (NotFoundError, ValueError):
            return None

    @property
    def dim(self) -> int | None:
        if self._chunks is None:
            return None
        value = (self._chunks.metadata or {}).get("dim")
        return int(value) if value is not None else None

    def check_dim(self, dim: int) -> None:
        if self.dim is not None and self.dim != dim:
            raise EmbedderMismatchError(
                f"collection {self.collection_name!r} in {self.where} holds {self.dim}-d embeddings, "
                f"but embedder {self.embedder_name!r} makes {dim}-d ones; ingest into another collection (--kb NAME)"
            )

    def ensure_collections(self, dim: int) -> None:
        self.check_dim(dim)
        if self._chunks is None:
            self._chunks = self.client.get_or_create_collection(
                self.collection_name,
                embedding_function=None,
                metadata={"embedder": self.embedder_name, "dim": int(dim)},
                configuration={"hnsw": dict(HNSW)},
            )
        else:
            self._tune_sync()
        if self._registry is None:
            self._registry = self.client.get_or_create_collection(
                self.collection_name + REGISTRY_SUFFIX, embedding_function=None, metadata={"kind": "gg-research registry"}
            )

    def _tune_sync(self) -> None:
        """A collection made by an older version gets the small sync threshold at its next ingest."""
        try:
            hnsw = (self._chunks.configuration or {}).get("hnsw") or {}
            if int(hnsw.get("sync_threshold", 0)) > HNSW["sync_threshold"]:
                self._chunks.modify(configuration={"hnsw": {k: HNSW[k] for k in ("sync_threshold", "batch_size")}})
        except Exception:  # an older Chroma without the setting: only search start-up is slower
            pass

    # -- registry ---------------------------------------------------------------------------

    def registry(self) -> dict[str, DocRecord]:
        if self._registry is None:
            self._registry = self._get_or_none(self.collection_name + REGISTRY_SUFFIX)
            if self._registry is None:
                return {}
        got = self._registry.get(include=["metadatas"])
        records = {}
        for meta in got["metadatas"] or []:
            rec = DocRecord(
                doc_id=str(meta["doc_id"]),
                source=str(meta["source"]),
                title=str(meta.get("title", "")),
                kind=str(meta.get("kind", "")),
                pages=int(meta.get("pages", 0)),
                chunks=int(meta.get("chunks", 0)),
                sections=int(meta.get("sections", 0)),
                ingested_at=str(meta.get("ingested_at", "")),
                embedder=str(meta.get("embedder", "")),
                text_hash=str(meta.get("text_hash", "")),
                section_source=str(meta.get("section_source", "")),
            )
            records[rec.source] = rec
        return records

    def register(self, record: DocRecord) -> None:
        meta = {k: v for k, v in vars(record).items() if k != "extra"}
        self._registry.upsert(ids=[_source_key(record.source)], documents=[record.source], embeddings=[[1.0]], metadatas=[meta])

    def unregister(self, source: str) -> None:
        if self._registry is not None:
            self._registry.delete(ids=[_source_key(source)])

    # -- chunks -----------------------------------------------------------------------------

    def add_chunks(self, ids: list[str], embeddings: np.ndarray, texts: list[str], metadatas: list[dict[str, Any]]) -> None:
        for start in range(0, len(ids), WRITE_BATCH):
            end = start + WRITE_BATCH
            self._chunks.upsert(ids=ids[start:end], embeddings=embeddings[start:end], documents=texts[start:end], metadatas=metadatas[start:end])

    def delete_doc_chunks(self, doc_id: str) -> None:
        if self._chunks is not None:
            self._chunks.delete(where={"doc_id": doc_id})

    def delete_orphans(self) -> int:
        """Drop chunks of documents not in the registry (killed ingests, replaced versions)."""
        if self._chunks is None:
            return 0
        live = sorted({r.doc_id for r in self.registry().values()})
        before = self._chunks.count()
        if live:
            self._chunks.delete(where={"doc_id": {"$nin": live}})
        elif before:
            ids = self._chunks.get(include=[])["ids"]
            for start in range(0, len(ids), WRITE_BATCH):
                self._chunks.delete(ids=ids[start : start + WRITE_BATCH])
        return before - self._chunks.count()

    def count(self) -> int:
        return 0 if self._chunks is None else self._chunks.count()

    def query(self, embedding: np.ndarray, n: int, exclude_kinds: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The `n` nearest chunks, none of a kind in `exclude_kinds` (a chunk without a kind is body)."""
        if self._chunks is None or n <= 0:
            return []
        total = self._chunks.count()
        if total == 0:
            return []
        res = self._chunks.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)],
            n_results=min(n, total),
            where={"kind": {"$nin": list(exclude_kinds)}} if exclude_kinds else None,
            include=["documents", "metadatas", "embeddings", "distances"],
        )
        return [
            {"id": i, "text": t, "meta": m, "embedding": np.asarray(e, dtype=np.float32), "distance": float(d)}
            for i, t, m, e, d in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["embeddings"][0], res["distances"][0])
        ]

    def get(self, ids: list[str]) -> list[dict[str, Any]]:
        if self._chunks is None or not ids:
            return []
        res = self._chunks.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        found = {
            i: {"id": i, "text": t, "meta": m, "embedding": np.asarray(e, dtype=np.float32), "distance": float("nan")}
            for i, t, m, e in zip(res["ids"], res["documents"], res["metadatas"], res["embeddings"])
        }
        return [found[i] for i in ids if i in found]

    def chunk_texts(self) -> tuple[list[str], list[str], list[str]]:
        """Ids, texts as indexed (under their headings) and kinds of the live chunks, by id."""
        if self._chunks is None:
            return [], [], []
        live = sorted({r.doc_id for r in self.registry().values()})
        if not live:
            return [], [], []
        res = self._chunks.get(where={"doc_id": {"$in": live}}, include=["documents", "metadatas"])
        # Indexed as embedded: under the section title and sub-heading.
        texts = [
            with_heading(t or "", str((m or {}).get("section_title", "")), str((m or {}).get("subheading", "")))
            for t, m in zip(res["documents"], res["metadatas"])
        ]
        # A chunk ingested before kinds existed is body text.
        kinds = [str((m or {}).get("kind", BODY)) for m in res["metadatas"]]
        rows = sorted(zip(res["ids"], texts, kinds))
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
