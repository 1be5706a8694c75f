"""gg-research kb (not built yet)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from gg_research.cli import UserError

    raise UserError("'kb' is not built yet")
