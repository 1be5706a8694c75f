"""Section labels and answers on real typeset documents (benchmarks/corpus/, built by its build.py).

For each document, in a workspace of its own: ingest time per page; the share of chunks whose
section label is the source's own section (each chunk is assigned the section of the source
whose text holds most of its word trigrams; chunks matching none, such as a title page, are
counted apart); the share of chunks labelled references, contents or figure labels; answer@1
and answer@6 over the questions of benchmarks/corpus/content.py (two wordings per fact, written
with the text, before any retrieval ran on it). The two Debian manuals with their question sets
(benchmarks/qa/) are added when installed (answers only: their source structure is not known).
Then `gg-research search` as a command, --runs times in fresh processes: p50 seconds.

Prints `key: value` lines, per document (`<name>.<figure>`) and over all of them.

    python benchmarks/bench_corpus.py [--runs 5] [--no-manuals] [--threads 1]

It uses only the API that ingest and search have had since issue 8, so the same script measures
an older checkout, laid out as installed (tests/conftest.py `installed_layout`), without the
editable install's finder: PYTHONPATH=<layout>:<venv site-packages> python -S benchmarks/bench_corpus.py
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
QA = Path(__file__).resolve().parent / "qa"
sys.path.append(str(CORPUS))  # content.py; appended, so a PYTHONPATH checkout comes first
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

MANUALS = {
    "libtasn1": (Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"), QA / "libtasn1.tsv"),
    "shared-mime-info": (Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"), QA / "shared-mime-info-spec.tsv"),
}
MATCH_SHARE = 0.5  # of a chunk's trigrams in one section's text, for the chunk to belong to it
SEARCH_QUERY = "why was a threshold applied to the U-Net output and how much did it help"


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def trigrams(text: str) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + 3]) for i in range(max(0, len(w) - 2))}


def same_title(label: str, title: str) -> bool:
    """A label names the source's section when its words end with the section title's words
    ("Chapter 1 Introduction", "1 Introduction" and "Introduction" all name "Introduction")."""
    got, want = words(label), words(title)
    return bool(want) and got[-len(want) :] == want


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def qa_of(kind: str) -> list[tuple[str, str]]:
    from content import PAPER_QA, THESIS_QA

    return [(q, a) for _, q, a in (THESIS_QA if kind == "thesis" else PAPER_QA)]


def read_tsv(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [(r["question"].strip(), r["answer"].strip()) for r in csv.DictReader(f, delimiter="\t")]


def measure(name: str, pdf: Path, sections: list[dict] | None, qa: list[tuple[str, str]], cfg, embedder) -> dict:
    from gg_research.knowledge.ingest import Ingestor
    from gg_research.retrieval.searcher import Searcher

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        (ws / "gg-research.toml").write_text("")
        t = time.perf_counter()
        [res] = Ingestor(ws, cfg, embedder=embedder).ingest([pdf])
        out["ingest_s_per_page"] = (time.perf_counter() - t) / max(res.pages, 1)
        out["pages"], out["chunks"], out["sections"] = res.pages, res.chunks, res.sections
        searcher = Searcher(ws, cfg, embedder=embedder)
        store = searcher.kb.store
        out["sections_from"] = getattr(store.registry()[res.source], "section_source", "") or "-"
        got = store._chunks.get(where={"doc_id": res.doc_id}, include=["documents", "metadatas"])
        metas, texts = got["metadatas"], got["documents"]
        kinds = [str(m.get("kind", "body")) for m in metas]
        out["excluded_share"] = sum(k != "body" for k in kinds) / max(len(kinds), 1)
        if sections is not None:
            grams = [trigrams(" ".join([s["title"], *s["text"]])) for s in sections]
            right = matched = 0
            wrong: list[str] = []
            for text, meta, kind in zip(texts, metas, kinds):
                mine = trigrams(text)
                if not mine or kind == "contents":
                    continue  # a list of tables repeats a caption: it is not the captioned section's text
                shares = [len(mine & g) / len(mine) for g in grams]
                best = max(range(len(shares)), key=shares.__getitem__)
                if shares[best] < MATCH_SHARE:
                    continue  # a title page, a contents list: no section of the source holds it
                matched += 1
                label = " ".join(p for p in (str(meta.get("section_number", "")), str(meta.get("section_title", ""))) if p)
                if same_title(label, sections[best]["title"]):
                    right += 1
                else:
                    wrong.append(f"{sections[best]['title']}<-{label or '(none)'}")
            out["label_accuracy"] = right / max(matched, 1)
            out["chunks_matched"] = matched
            out["wrong_labels"] = ";".join(sorted(set(wrong))) or "-"
        ranks = []
        for question, answer in qa:
            hits = searcher.search(question, k=6)
            want = normalised(answer)
            ranks.append(next((i for i, h in enumerate(hits, start=1) if want in normalised(h.text)), None))
        out["questions"] = len(ranks)
        out["answer_at_1"] = sum(r == 1 for r in ranks) / len(ranks)
        out["answer_at_6"] = sum(r is not None for r in ranks) / len(ranks)
        out["missed_at_6"] = ",".join(str(i) for i, r in enumerate(ranks, start=1) if r is None) or "-"
        out["_ranks"] = ranks
    return out


def search_p50(pdf: Path, runs: int, cfg, embedder) -> float:
    from gg_research.knowledge.ingest import Ingestor

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        (ws / "gg-research.toml").write_text("")
        Ingestor(ws, cfg, embedder=embedder).ingest([pdf])
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            # -S as this process was started (an older checkout on PYTHONPATH, no editable install).
            python = [sys.executable, *(["-S"] if sys.flags.no_site else [])]
            subprocess.run([*python, "-m", "gg_research.cli", "search", SEARCH_QUERY, "--json"], cwd=ws,
                           check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh `gg-research search` processes for the p50")
    parser.add_argument("--no-manuals", dest="manuals", action="store_false")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from gg_research.config import KnowledgeSection
    from gg_research.knowledge.embedder import load_embedder

    cfg = KnowledgeSection()
    embedder = load_embedder(cfg.embedder)
    truth = json.loads((CORPUS / "truth.json").read_text())
    results: dict[str, dict] = {}
    for name, kind in truth["documents"].items():
        results[name] = measure(name, CORPUS / name, truth["texts"][kind], qa_of(kind), cfg, embedder)
    if args.manuals:
        for name, (pdf, tsv) in MANUALS.items():
            if pdf.is_file():
                results[name] = measure(name, pdf, None, read_tsv(tsv), cfg, embedder)
    import gg_research

    print(f"code: {Path(gg_research.__file__).resolve().parent}")
    for name, r in results.items():
        for key, value in r.items():
            if not key.startswith("_"):
                print(f"{name}.{key}: {value:.3f}" if isinstance(value, float) else f"{name}.{key}: {value}")
    labelled = [r for r in results.values() if "label_accuracy" in r]
    total = sum(r["chunks_matched"] for r in labelled)
    print(f"label_accuracy: {sum(r['label_accuracy'] * r['chunks_matched'] for r in labelled) / total:.3f}")
    ranks = [x for r in results.values() for x in r["_ranks"]]
    print(f"questions: {len(ranks)}")
    print(f"answer_at_1: {sum(x == 1 for x in ranks) / len(ranks):.3f}")
    print(f"answer_at_6: {sum(x is not None for x in ranks) / len(ranks):.3f}")
    chunks = sum(r["chunks"] for r in results.values())
    print(f"excluded_share: {sum(r['excluded_share'] * r['chunks'] for r in results.values()) / chunks:.3f}")
    pages = sum(r["pages"] for r in results.values())
    print(f"ingest_s_per_page: {sum(r['ingest_s_per_page'] * r['pages'] for r in results.values()) / pages:.3f}")
    print(f"search_cmd_p50_s: {search_p50(CORPUS / 'thesis-latex.pdf', args.runs, cfg, embedder):.2f}")


if __name__ == "__main__":
    main()
