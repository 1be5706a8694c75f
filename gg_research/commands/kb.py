"""List or remove documents of the knowledge base.

  gg-research kb list            documents: source, doc id, pages, chunks, sections (and where they came
                                 from: the PDF's outline or the text's headings), ingested at
  gg-research kb remove DOC      remove one, by doc id (prefix) or source name
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kb", metavar="NAME", help="collection (default: [knowledge] collection)")
    sub = parser.add_subparsers(dest="kb_command", metavar="ACTION")
    sub.required = True
    ls = sub.add_parser("list", help="list the documents")
    ls.add_argument("--json", action="store_true", help="print JSON for scripts")
    rm = sub.add_parser("remove", help="remove a document by doc id (prefix) or source name")
    rm.add_argument("doc", metavar="DOC", help="doc id, a unique prefix of it, the source path or the file name")


def run(args: argparse.Namespace) -> int:
    from gg_research.knowledge.knowledge_base import KnowledgeBase
    from gg_research.knowledge.settings import workspace_knowledge

    workspace, config = workspace_knowledge(args.kb)
    kb = KnowledgeBase(workspace, config)
    if args.kb_command == "remove":
        record = kb.remove(args.doc)
        print(f"removed {record.source} ({record.doc_id}, {record.chunks} chunks) from collection {config.collection!r}")
        return 0
    docs = kb.documents()
    if args.json:
        from gg_research.commands.jsonout import dumps

        print(dumps([{k: v for k, v in vars(d).items() if k != "extra"} for d in docs], indent=2))
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    # Not on a terminal (a pipe, a file, a test) nothing limits the width: paths stay whole.
    console = Console() if sys.stdout.isatty() else Console(width=100_000)
    if not docs:
        console.print(f"Collection {config.collection!r} is empty. Add documents with 'gg-research ingest FILE...'.")
        return 0
    table = Table(title=f"collection {config.collection!r}: {len(docs)} documents")
    for col in ("source", "doc id", "pages", "chunks", "sections", "sections from", "ingested at"):
        # On a narrow terminal a long path wraps onto more lines instead of losing its end to "…".
        table.add_column(col, justify="right" if col in ("pages", "chunks", "sections") else "left", overflow="fold")
    for d in docs:
        table.add_row(escape(d.source), d.doc_id, str(d.pages), str(d.chunks), str(d.sections), d.section_source or "-", d.ingested_at)
    console.print(table)
    return 0
