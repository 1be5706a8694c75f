"""Query-independent weights on a chunk's retrieval scores, from what ingest knows of it.

Front matter (the text before a document's first heading: a title page, an author line) restates
the document's topic in a few words. Both sides over-rank it for any question about the
document: to BM25 it is a very short document full of topic terms (length normalisation lifts it),
to the embedder a sentence of the topic alone. It answers none of those questions, so its scores
are scaled down on each side before fusion; it is kept, so a question about the title or the
author still finds it.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

# Halving is enough to put a title page behind the body passages it competes with (they differ by
# a few hundredths of cosine or a fraction of the best BM25 score) without hiding it altogether.
FRONT_MATTER_WEIGHT = 0.5


def chunk_prior(meta: Mapping[str, Any] | None) -> float:
    """The factor for a chunk's scores; 1.0 for a body chunk or one ingested before the flag existed."""
    return FRONT_MATTER_WEIGHT if (meta or {}).get("front_matter") else 1.0
