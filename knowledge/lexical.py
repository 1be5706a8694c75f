"""The BM25 index (bm25s) kept beside the vector store, rebuilt after every ingest or removal.

It is stamped with the registry's fingerprint, so a searcher can tell a stale index (a kill
between the registry flip and the rebuild, or another process's ingest) and rebuild it, and with
INDEX_FORMAT, so an index built with other parameters or stopwords is rebuilt the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Collection, Iterable, Sequence

import numpy as np

from gg_research.knowledge.document_parts import BODY
from gg_research.knowledge.spelling import normalise_spelling

# bm25s's English list (articles, prepositions, "is", "was", ...) lacks the words that make a
# sentence a question: "What objective ...?", "Which optimiser ...?", "How did ...?", "How many
# ...?". Every question carries them and no answer is about them, yet a chunk that happens to
# contain "what" matched every "What ...?" question through them.
QUESTION_WORDS = frozenset(
    {"what", "which", "who", "whom", "whose", "why", "how", "when", "where", "do", "does", "did", "many", "much"}
)
# It lacks the other function words too (pronouns, auxiliaries, determiners: "each", "have",
# "were", "other"), which are rare enough in a small knowledge base to carry a high IDF: one of them
# in a question let an unrelated chunk take the lexical top of scale. bm25s's longer "en_plus"
# (NLTK's) list has them, but also prepositions of place, time and direction, which do carry
# meaning in a question ("how high above the bed", "before the first layer", "taken out"): those
# stay searchable.
KEPT_PREPOSITIONS = frozenset(
    {"above", "below", "under", "over", "before", "after", "up", "down", "out", "off", "between", "through",
     "against", "during", "until", "again", "further"}
)


def _stopwords() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_EN_PLUS

    return sorted((set(STOPWORDS_EN) | set(STOPWORDS_EN_PLUS) | QUESTION_WORDS) - KEPT_PREPOSITIONS)


# Pyserini's BM25 defaults for passage collections (BEIR, MS MARCO passage) instead of bm25s's
# 1.5 / 0.75, which suit long articles: at b=0.75 a chunk much shorter than the average (a title
# page, a table's tail, a one-paragraph section) gets a large length bonus for a single query word
# and takes the lexical top of scale from the passage that answers.
K1 = 0.9
B = 0.4
# Terms a query gains from the glossary (synonyms.py) count at this share of its own terms: a
# passage in the asker's own words still leads one that only uses a synonym.
EXPANSION_WEIGHT = 0.5
# What an index is built with; a saved one stamped otherwise is rebuilt from the store on load.
INDEX_FORMAT = f"bm25s k1={K1} b={B} stopwords=en-plus+question-words-prepositions spelling=american kinds"
META_NAME = "gg-lexical.json"


def fingerprint(doc_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(doc_ids)).encode()).hexdigest()[:16]


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its own logger to DEBUG on import; quiet it after importing.
    logging.getLogger("bm25s").setLevel(logging.ERROR)
    return bm25s


def _tokens(texts: list[str]) -> list[list[str]]:
    bm25s = _bm25s()
    return bm25s.tokenize(texts, stopwords=_stopwords(), stemmer=normalise_spelling, return_ids=False, show_progress=False)


@dataclass
class LexicalIndex:
    ids: list[str]
    fingerprint: str
    retriever: Any = None  # bm25s.BM25, absent for an empty corpus
    kinds: list[str] = field(default_factory=list)  # each chunk's kind (document_parts.CHUNK_KINDS), as `ids`

    @classmethod
    def build(cls, ids: list[str], texts: list[str], fp: str, kinds: Sequence[str] | None = None) -> LexicalIndex:
        kinds = list(kinds) if kinds is not None else [BODY] * len(ids)
        if not ids:
            return cls([], fp, None, [])
        bm25s = _bm25s()

        retriever = bm25s.BM25(k1=K1, b=B)
        # The corpus is tokenised as the query is (_tokens): the same stopwords, the same spelling.
        corpus = bm25s.tokenize(texts, stopwords=_stopwords(), stemmer=normalise_spelling, show_progress=False)
        retriever.index(corpus, show_progress=False)
        return cls(list(ids), fp, retriever, kinds)

    def search(self, query: str, n: int, expansions: Sequence[str] = (), exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the best `n` chunks sharing a term with the query.

        `expansions` (synonyms of the query's words) add their BM25 score at EXPANSION_WEIGHT;
        chunks of a kind in `exclude` ("references", ...) are left out before the best are taken.
        """
        if self.retriever is None or not self.ids:
            return []
        terms, extra = _tokens([query, " ".join(expansions)])
        terms = [t for t in terms if t]
        extra = [t for t in extra if t and t not in terms]
        scores = self._scores(terms) + EXPANSION_WEIGHT * self._scores(extra)
        if exclude:
            scores[np.fromiter((k in exclude for k in self.kinds), dtype=bool, count=len(self.kinds))] = 0.0
        top = np.argsort(-scores, kind="stable")[:n]
        return [(self.ids[int(d)], float(scores[d])) for d in top if scores[d] > 0]

    def _scores(self, terms: list[str]) -> np.ndarray:
        ids = self.retriever.get_tokens_ids(terms)
        if not ids:
            return np.zeros(len(self.ids))
        return np.asarray(self.retriever.get_scores(ids), dtype=np.float64)

    def save(self, folder: Path) -> None:
        """Write to a fresh folder and swap it in, so readers never see half an index."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            if self.retriever is not None:
                self.retriever.save(str(tmp))
            (tmp / META_NAME).write_text(json.dumps({"fingerprint": self.fingerprint, "format": INDEX_FORMAT, "ids": self.ids, "kinds": self.kinds}))
            old = folder.with_name(folder.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if folder.exists():
                os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """The saved index, or None when it is missing, unreadable or built otherwise (then it is rebuilt)."""
        meta = folder / META_NAME
        if not meta.is_file():
            return None
        try:
            info = json.loads(meta.read_text())
            if info.get("format") != INDEX_FORMAT:
                return None
            retriever = None
            if info["ids"]:
                bm25s = _bm25s()
                retriever = bm25s.BM25.load(str(folder))
            return cls(list(info["ids"]), str(info["fingerprint"]), retriever, list(info["kinds"]))
        except Exception:  # a damaged index is rebuilt from the store, never fatal
            return None
