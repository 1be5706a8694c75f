"""How the loop runs one experiment: the harness's `run_experiment`, resolved lazily.

The harness handles both train.py and a `[run] command` (a child in its own process group,
killed at the hard limit), so the loop works on any command that writes the metrics JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunFn = Callable[..., Any]


def default_run_fn(config: Any = None) -> RunFn:
    """The harness's runner; with `[run] prestart` (and no `[run] command`), the prestarting one."""
    from harness.runner import PrestartingRunner, run_experiment

    if config is not None and config.run.prestart and not config.run.command:
        return PrestartingRunner()
    return run_experiment


def close_run_fn(run_fn: RunFn) -> None:
    """Stop whatever a runner keeps between runs (the prestarted child)."""
    close = getattr(run_fn, "close", None)
    if callable(close):
        close()
