"""Index PDFs, Markdown or plain-text notes into the workspace's knowledge base.

Each file is extracted, cleaned (running headers, page numbers, hyphenation, ligatures),
split into section-aware chunks, embedded offline and stored in Chroma. The same bytes again
are a no-op; a changed file replaces its older version. A bad file is reported on one line and
the others still ingest; the exit code is 1 when any file failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE",
        help="PDF, Markdown (.md) or text (.txt) files; a folder stands for the supported files under it",
    )
    parser.add_argument("--kb", metavar="NAME", help="collection to ingest into (default: [knowledge] collection)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from gg_research.knowledge.ingest import Ingestor
    from gg_research.knowledge.readers import expand_paths
    from gg_research.knowledge.settings import workspace_knowledge

    workspace, config = workspace_knowledge(args.kb)
    err = Console(stderr=True)
    # Rich redraws from its own thread, so the spinner and the clock move while a long PDF is read
    # or the model loads; the bar has no total (it pulses) until the chunks are counted.
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(source: str, stage: str, done: int, total: int) -> None:
            if source not in tasks:
                tasks[source] = bar.add_task(f"{stage} {source}", total=None)
            bar.update(tasks[source], description=f"{stage} {source}", completed=done, total=total or None)

        results = Ingestor(workspace, config, progress=progress).ingest(expand_paths(args.files))
    failed = 0
    for r in results:
        if r.status == "failed":
            failed += 1
            print(f"gg-research ingest: error: {r.message}", file=sys.stderr)
        else:
            print(r.summary())
    counts = {s: sum(r.status == s for r in results) for s in ("ingested", "replaced", "unchanged")}
    print(
        f"{counts['ingested']} ingested, {counts['replaced']} replaced, {counts['unchanged']} unchanged, "
        f"{failed} failed (collection {config.collection!r})"
    )
    return 1 if failed else 0
