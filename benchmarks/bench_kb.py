"""Knowledge-base figures on a generated 300-page thesis (the README's table of figures).

Prints `key: value` lines:
  ingest time and pages/s, the share of it spent in the embedder (target: ingest within 1.25x
  the embedder's own time), re-ingest time of the unchanged file (target < 1 s), and hybrid
  query latency p50/p95 in a warm process at about 10,000 chunks, query embedding included
  (target p95 < 50 ms), for the Searcher as the loop builds it (ONNX query embedder) and with
  the sentence-transformers embedder (torch_*).

The 10,000 chunks are the thesis's own plus generated filler chunks written straight to the
store, with embeddings that are jittered copies of the thesis's real ones: embedding 9,000
more chunks would take many minutes on 2 cores and measures nothing the thesis does not.

    python benchmarks/bench_kb.py [--pages 300] [--chunks 10000] [--queries 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

QUERIES = [
    "why does the alignment collapse when the STN rotation range grows",
    "effect of the learning rate on the segmentation decoder",
    "cosine schedule versus warm restarts",
    "stringing defects on dark filament",
    "camera calibration and lighting of the build plate",
    "PBQC on the validation split",
    "Dice loss versus focal loss for thin walls",
    "homography regularisation of the localisation network",
    "nozzle temperature and under-extrusion",
    "attention gate fusion of the toolpath rendering",
]


def thesis_path(pages: int) -> Path:
    from tests.knowledge.thesis_pdf import long_thesis_pages, write_pdf

    cache = Path(tempfile.gettempdir()) / "gg-research-bench"
    cache.mkdir(exist_ok=True)
    path = cache / f"thesis-{pages}p.pdf"
    if not path.is_file():
        tmp = path.with_suffix(".tmp")
        write_pdf(tmp, long_thesis_pages(pages, seed=7), title=f"Generated {pages}-page thesis")
        os.replace(tmp, path)
    return path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def add_filler(ws: Path, cfg, target: int, seed: int = 0) -> int:
    """Bring the collection to `target` chunks with one registered filler document."""
    import random

    import numpy as np

    from gg_research.knowledge.document_parts import DocRecord
    from gg_research.knowledge.knowledge_base import KnowledgeBase

    kb = KnowledgeBase(ws, cfg)
    store = kb.store
    have = store.count()
    need = target - have
    if need <= 0:
        return have
    real = store._chunks.get(include=["embeddings", "documents"])
    vecs = np.asarray(real["embeddings"], dtype=np.float32)
    texts = real["documents"]
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(vecs), size=need)
    filler = vecs[pick] + rng.normal(scale=0.05, size=(need, vecs.shape[1])).astype(np.float32)
    filler /= np.linalg.norm(filler, axis=1, keepdims=True)
    r = random.Random(seed)
    filler_texts = [" ".join(r.sample(texts[i].split(), k=min(60, len(texts[i].split())))) for i in pick]
    doc_id = "f111e4000000"
    metas = [
        {"doc_id": doc_id, "source": "filler.txt", "title": "filler", "page": 1 + i // 3, "page_end": 1 + i // 3,
         "section": "", "section_number": "", "section_title": "", "chunk_index": i}
        for i in range(need)
    ]
    store.add_chunks([f"{doc_id}:{i}" for i in range(need)], filler, filler_texts, metas)
    store.register(DocRecord(doc_id, "filler.txt", "filler", "text", need // 3, need, 0, "", cfg.embedder))
    kb.rebuild_lexical()
    return store.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core box)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import chromadb  # noqa: F401  (imports are start-up, not ingest)

    from gg_research.config import KnowledgeSection
    from gg_research.knowledge.embedder import load_embedder
    from gg_research.knowledge.ingest import Ingestor
    from gg_research.retrieval.searcher import Searcher

    t = time.perf_counter()
    pdf = thesis_path(args.pages)
    print(f"thesis_pages: {args.pages}")
    print(f"thesis_generate_or_cache_s: {time.perf_counter() - t:.2f}")
    print(f"torch_threads: {args.threads}")
    print(f"cpu_count: {os.cpu_count()}")
    print(f"load_average_1min: {os.getloadavg()[0]:.2f}")
    t = time.perf_counter()
    embedder = load_embedder("all-MiniLM-L6-v2")
    embedder.embed(["warm-up"])
    print(f"embedder_load_s: {time.perf_counter() - t:.2f}")

    with tempfile.TemporaryDirectory(prefix="gg-bench-kb-") as tmp:
        ws = Path(tmp)
        (ws / "gg-research.toml").write_text("")
        cfg = KnowledgeSection()
        ing = Ingestor(ws, cfg, embedder=embedder)
        [res] = ing.ingest([pdf])
        tm = ing.timings
        assert res.status == "ingested", res.message
        print(f"ingest_chunks: {res.chunks}")
        print(f"ingest_s: {tm.total:.2f}")
        print(f"ingest_pages_per_s: {args.pages / tm.total:.2f}")
        print(f"ingest_read_s: {tm.read:.2f}")
        print(f"ingest_chunking_s: {tm.chunk:.2f}")
        print(f"ingest_embed_s: {tm.embed:.2f}")
        print(f"ingest_store_s: {tm.store:.2f}")
        print(f"ingest_lexical_s: {tm.lexical:.2f}")
        print(f"embedder_share: {tm.embed / tm.total:.3f}")
        print(f"ingest_over_embedder_ratio: {tm.total / tm.embed:.3f}  (target <= 1.25)")

        again = Ingestor(ws, cfg, embedder=embedder)
        t = time.perf_counter()
        [res2] = again.ingest([pdf])
        dt = time.perf_counter() - t
        assert res2.status == "unchanged"
        print(f"reingest_unchanged_s: {dt:.3f}  (target < 1)")

        total = add_filler(ws, cfg, args.chunks)
        print(f"query_collection_chunks: {total}")
        # As the loop's Searcher runs (the query embedder: the ONNX export when there is one), and
        # with the sentence-transformers embedder that ingest used.
        for label, searcher in (("", Searcher(ws, cfg)), ("torch_", Searcher(ws, cfg, embedder=embedder))):
            searcher.search(QUERIES[0], k=5)  # warm: opens the store, loads the lexical index
            latencies = []
            for i in range(args.queries):
                q = QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" variant {i}")
                t = time.perf_counter()
                hits = searcher.search(q, k=5)
                latencies.append((time.perf_counter() - t) * 1000)
                assert hits
            t = time.perf_counter()
            for i in range(min(50, args.queries)):
                searcher.embedder.embed([QUERIES[i % len(QUERIES)] + f" variant {i}"])
            embed_ms = (time.perf_counter() - t) * 1000 / min(50, args.queries)
            print(f"{label}query_embedder: {type(searcher.embedder).__name__}")
            print(f"{label}query_p50_ms: {statistics.median(latencies):.1f}")
            print(f"{label}query_p95_ms: {percentile(latencies, 0.95):.1f}  (target < 50)")
            print(f"{label}query_embedding_only_mean_ms: {embed_ms:.1f}")
        print(f"query_count: {args.queries}")


if __name__ == "__main__":
    main()
