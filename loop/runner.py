"""How the loop runs one experiment: the harness's `run_experiment`, resolved lazily.

The harness handles both train.py and a `[run] command` (a child in its own process group,
killed at the hard limit), so the loop works on any command that writes the metrics JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunFn = Callable[..., Any]


def default_run_fn() -> RunFn:
    from harness.runner import run_experiment

    return run_experiment
