"""`gg-research` command line.

Each command lives in `gg_research/commands/<name>.py` with two functions:
`add_arguments(parser)` and `run(args) -> int`. Heavy libraries (torch, chromadb,
sentence-transformers) are imported only inside `run`, so `--help` and argument
errors answer in well under a second.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from gg_research import __version__
from gg_research.errors import GGError

# (command, module, one-line help). Order is the order shown by --help.
COMMANDS: list[tuple[str, str, str]] = [
    ("init", "init", "create a research workspace (git repo with train.py, program.md, gg-research.toml)"),
    ("adopt", "adopt", "adopt an autoresearch-style repo (train.py, its command, summary and results.tsv) in place"),
    ("ingest", "ingest", "index PDFs, Markdown or text notes into the knowledge base"),
    ("search", "search", "hybrid search of the knowledge base, with citations"),
    ("kb", "kb", "list or remove documents of the knowledge base"),
    ("run", "run", "run one experiment of the current train.py under the time budget"),
    ("loop", "loop", "the overnight loop: propose, edit, commit, run, keep or revert"),
    ("note", "note", "steer a running loop: a dated note the next proposal sees"),
    ("step", "step", "one experiment of your own edit of train.py, under the loop's checks and keep rule"),
    ("status", "status", "the loop's state: front, recent runs, near misses, noise margins (--json)"),
    ("mcp", "mcp", "MCP server (stdio) for Claude Code or any agent: search, state, run experiments, report"),
    ("report", "report", "the morning report: Pareto front of the objectives, with cited passages"),
    ("export", "export", "the night to MLflow, TensorBoard or an Optuna study (optuna-dashboard)"),
    ("gcode", "gcode", "inspect or render a G-code file"),
    ("data", "data", "generate the synthetic dataset or check a dataset folder"),
]

# Libraries that log at INFO/WARNING on every call; quiet them by logger name.
NOISY_LOGGERS = (
    "chromadb", "sentence_transformers", "httpx", "httpcore", "anthropic", "optuna",
    "urllib3", "matplotlib", "PIL", "bm25s", "transformers", "huggingface_hub", "monai",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gg-research",
        description=(
            "A research assistant that runs a researcher's experiments overnight, grounded in "
            "their own dissertation. Typical night: init, ingest thesis.pdf, loop, then report."
        ),
    )
    parser.add_argument("--version", action="version", version=f"gg-research {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show library logs and full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module, help_text in COMMANDS:
        mod = importlib.import_module(f"gg_research.commands.{module}")
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip())
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def _quiet_libraries(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # No model hub and no telemetry at run time, ever.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries(args.verbose)
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        print("gg-research: interrupted", file=sys.stderr)
        return 130
    except GGError as exc:
        print(f"gg-research {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one line for the user; the traceback with -v
        if args.verbose:
            raise
        print(f"gg-research {args.command}: unexpected {type(exc).__name__}: {exc} (re-run with -v for the traceback)", file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
