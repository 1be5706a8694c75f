"""The one notice a command gives before it runs experiments unboxed (no bubblewrap, or sandbox off)."""

from __future__ import annotations

import sys

from gg_research.config import Config


def say_if_unboxed(config: Config) -> None:
    """Print, once and to stderr, that runs will not be isolated and how to fix it.

    With `[run] sandbox = "bwrap"` and no bubblewrap this raises the one-line error instead."""
    from gg_research.harness.box import Isolation

    warning = Isolation.of(config).warning
    if warning:
        print(warning.replace("[gg-research] ", "gg-research: "), file=sys.stderr, flush=True)
