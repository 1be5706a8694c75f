"""`python -m gg_research` is the same as the `gg-research` script."""

from gg_research.cli import entry

entry()
