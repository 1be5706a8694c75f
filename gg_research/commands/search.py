"""Hybrid search of the knowledge base (dense + BM25, fused, diversified), with citations.

Each passage is shown with its citation key (the chunk id the loop cites), source, page,
section and score. --json prints a list of {source, page, page_end, section, chunk_id, score, text}
(page_end: the page the passage ends on).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="what to look for, in your own words")
    parser.add_argument("-k", type=int, default=5, metavar="N", help="passages to show (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--kb", metavar="NAME", help="collection to search (default: [knowledge] collection)")
    parser.add_argument(
        "--include", action="append", default=[], metavar="KIND",
        help="also search text left out by default: references, contents (tables of contents, lists of figures, "
             "indexes), figures (labels inside figures), or all; repeat or separate with commas",
    )


def included_kinds(values: list[str]) -> tuple[str, ...]:
    """--include values as kinds of text; 'all' is every kind left out by default."""
    from gg_research.errors import UserError
    from gg_research.knowledge.document_parts import EXCLUDED_KINDS

    kinds: list[str] = []
    for value in values:
        for kind in (v.strip().lower() for v in value.split(",")):
            if kind == "all":
                kinds.extend(EXCLUDED_KINDS)
            elif kind in EXCLUDED_KINDS:
                kinds.append(kind)
            elif kind:
                raise UserError(f"--include {kind}: not a kind of text; use references, contents, figures or all")
    return tuple(dict.fromkeys(kinds))


def run(args: argparse.Namespace) -> int:
    from gg_research.errors import UserError

    if args.k < 1:
        raise UserError(f"-k {args.k}: must be at least 1")
    if not args.query.strip():
        raise UserError("the query is empty")
    include = included_kinds(args.include)
    from gg_research.knowledge.settings import workspace_knowledge
    from gg_research.retrieval.searcher import Searcher

    workspace, config = workspace_knowledge(args.kb)
    passages = Searcher(workspace, config).search(args.query, k=args.k, include=include)
    if args.json:
        from gg_research.commands.jsonout import dumps

        keys = ("source", "document", "page", "page_end", "section", "kind", "chunk_id", "score", "text")
        print(dumps([{k: p.citation()[k] for k in keys} for p in passages], indent=2, ensure_ascii=False))
        return 0
    from rich.console import Console, Group
    from rich.markup import escape
    from rich.panel import Panel
    from rich.text import Text

    console = Console()
    if not passages:
        console.print(f"No passages: collection {config.collection!r} is empty. Add documents with 'gg-research ingest FILE...'.")
        return 0
    for p in passages:
        console.print(
            # Keys and passages hold brackets ("[3f2a9c1d:12]", "[1] Jaderberg"): not rich markup.
            # Where the passage is goes inside the panel, where it wraps: a panel title is cut at
            # the panel's width, and with a long path the page and section were what got cut.
            # The file's path shows here, on the researcher's own screen; prompts name the document only.
            Panel(Group(Text(p.where(), style="bold"), Text(p.source, style="dim"), Text(p.text)), title=f"[bold]{escape(f'[{p.key()}]')}[/bold]",
                  title_align="left", subtitle=f"score {p.score:.4f}", subtitle_align="right")
        )
    return 0
