"""Retrieval quality on a generated multi-chapter thesis with planted answers.

The thesis (tests/knowledge/thesis_pdf.py `flow_thesis_items`) is laid out like real ones: chapter
openings on their own lines, a table of contents, unnumbered sub-headings, a results table, a
two-column page, a wrapped bibliography, lettered appendices, distractor text in every section.
Each of its questions is asked in other words than the planted sentence; a result is a hit only
when the returned passage's text holds the planted answer.

Prints `key: value` lines: questions, answer@1, answer@6, MRR (over the top 10), chunks, ingest
time, and the questions missed at 6; the same three figures for each half of the questions
(half_a: the 1st, 3rd, ... question; half_b: the others), so a setting tuned on one half can be
checked on the other. `--questions held-out` asks a second wording of every question, written
after the settings and the glossary of synonyms were fixed (a check that they were not fitted to
the first). --fusion, --dense-weight, --chunk-tokens, --embedder (a local
sentence-transformers folder) and --no-builtin-synonyms override `[knowledge]` for comparisons.

On your own documents: `--pdf thesis.pdf [--pdf more.pdf] --qa questions.tsv`, where the TSV has a
header line `question<TAB>answer` and each answer is a short verbatim piece of the sentence that
answers the question (matched ignoring case and line breaks). `benchmarks/qa/` holds such sets for
two real manuals that Debian ships (`libtasn1-doc`, `shared-mime-info`), written by someone who
had not seen the retrieval code. An answer found in no chunk at all is listed as
`answer_not_in_any_chunk` (a fault of the question set or of the text extraction) and counts as
a miss.

    python benchmarks/bench_retrieval.py [--filler 4] [--threads 1] [--questions held-out] [--fusion rrf]
        [--dense-weight 0.6] [--chunk-tokens 128] [--no-builtin-synonyms]
    python benchmarks/bench_retrieval.py --pdf /usr/share/doc/libtasn1-doc/libtasn1.pdf \
        --qa benchmarks/qa/libtasn1.tsv
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

DEPTH = 10


def normalised(text: str) -> str:
    """Case and line breaks do not decide whether a passage holds an answer."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def read_qa(path: Path) -> dict[str, tuple[str, str]]:
    """key -> (question, answer) from a `question<TAB>answer` TSV with a header line."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or {"question", "answer"} - set(rows[0]):
        raise SystemExit(f"bench_retrieval: {path}: needs a header line 'question<TAB>answer' and rows")
    return {f"q{i}": (r["question"].strip(), r["answer"].strip()) for i, r in enumerate(rows, start=1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filler", type=int, default=4, help="distractor paragraphs per section")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fusion", choices=["score", "rrf"])
    parser.add_argument("--dense-weight", type=float)
    parser.add_argument("--chunk-tokens", type=int)
    parser.add_argument("--embedder", help="a local sentence-transformers folder instead of the packaged MiniLM")
    parser.add_argument("--questions", choices=["planted", "held-out"], default="planted",
                        help="the first wording of each question, or the held-out second one")
    parser.add_argument("--no-builtin-synonyms", dest="builtin_synonyms", action="store_false", default=None)
    parser.add_argument("--pdf", type=Path, action="append", help="a document of your own (repeatable); needs --qa")
    parser.add_argument("--qa", type=Path, help="question<TAB>answer TSV for the --pdf documents")
    args = parser.parse_args()
    if bool(args.pdf) != bool(args.qa):
        parser.error("--pdf and --qa go together")

    import torch

    torch.set_num_threads(args.threads)
    from gg_research.config import KnowledgeSection
    from gg_research.knowledge.ingest import Ingestor
    from gg_research.retrieval.searcher import Searcher
    from tests.knowledge.thesis_pdf import FLOW_FACTS, FLOW_QUESTIONS_HELD_OUT, flow_thesis_items, write_flow

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        (ws / "gg-research.toml").write_text("")
        if args.pdf:
            pdfs, facts = [p.resolve() for p in args.pdf], read_qa(args.qa)
        else:
            pdfs = [write_flow(ws / "thesis.pdf", flow_thesis_items(filler=args.filler, seed=11))]
            wording = FLOW_QUESTIONS_HELD_OUT if args.questions == "held-out" else {}
            facts = {k: (wording.get(k, q), a) for k, (q, a, _) in FLOW_FACTS.items()}
        overrides = {"fusion": args.fusion, "dense_weight": args.dense_weight, "chunk_tokens": args.chunk_tokens,
                     "embedder": args.embedder, "builtin_synonyms": args.builtin_synonyms}
        cfg = KnowledgeSection(**{k: v for k, v in overrides.items() if v is not None})
        t = time.perf_counter()
        results = Ingestor(ws, cfg).ingest(pdfs)
        ingest_s = time.perf_counter() - t
        searcher = Searcher(ws, cfg)
        stored = [normalised(text) for text in searcher.kb.store.chunk_texts()[1]]
        ranks: dict[str, int | None] = {}
        unfindable = []
        for key, (question, answer) in facts.items():
            want = normalised(answer)
            if not any(want in text for text in stored):
                unfindable.append(key)
            hits = searcher.search(question, k=DEPTH)
            ranks[key] = next((i for i, h in enumerate(hits, start=1) if want in normalised(h.text)), None)
    if args.pdf:
        print(f"documents: {', '.join(p.name for p in pdfs)}")
    print(f"fusion: {cfg.fusion}" + (f" (dense_weight {cfg.dense_weight})" if cfg.fusion == "score" else ""))
    print(f"questions: {len(ranks)} ({args.qa.name if args.qa else args.questions})")
    print(f"builtin_synonyms: {cfg.builtin_synonyms}")
    print(f"embedder: {cfg.embedder}")
    print(f"chunks: {sum(r.chunks for r in results)}")
    print(f"ingest_s: {ingest_s:.1f}")
    keys = list(ranks)
    for label, part in (("", keys), ("half_a_", keys[0::2]), ("half_b_", keys[1::2])):
        got = [ranks[k] for k in part]
        n = len(got)
        print(f"{label}answer_at_1: {sum(r == 1 for r in got) / n:.3f}")
        print(f"{label}answer_at_6: {sum(r is not None and r <= 6 for r in got) / n:.3f}")
        print(f"{label}mrr_at_{DEPTH}: {sum(1 / r for r in got if r) / n:.3f}")
    missed = [k for k, r in ranks.items() if r is None or r > 6]
    print(f"answer_not_in_any_chunk: {','.join(unfindable) or '-'}")
    print(f"missed_at_6: {','.join(missed) or '-'}")
    print(f"not_first: {','.join(f'{k}={r}' for k, r in ranks.items() if r != 1) or '-'}")


if __name__ == "__main__":
    main()
