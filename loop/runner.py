"""How the loop runs one experiment: the harness's `run_experiment`, resolved lazily.

The harness handles both train.py and a `[run] command` (a child in its own process group,
killed at the hard limit), so the loop works on any command that writes the metrics JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from gg_research.config import Config
from gg_research.harness.runner import RunResult
from gg_research.results.lifecycle import SeedStatus

# The harness's run status (a Literal, harness.runner.Status) in the lifecycle's words; the two are
# spelled alike today, but the harness's names are its own to change.
_SEED_STATUS: dict[str, SeedStatus] = {"ok": SeedStatus.OK, "crash": SeedStatus.CRASH,
                                       "timeout": SeedStatus.TIMEOUT, "invalid": SeedStatus.INVALID}


class RunFn(Protocol):
    """Runs one experiment of the workspace's current files (the harness's `run_experiment`)."""

    def __call__(self, workspace: Path, run_dir: Path, *, config: Config, seed: int, hard_limit_s: float) -> RunResult: ...


def default_run_fn(config: Config | None = None) -> RunFn:
    """The harness's runner; with `[run] prestart` (and no `[run] command`), the prestarting one."""
    from gg_research.harness.runner import PrestartingRunner, run_experiment

    if config is not None and config.run.prestart and not config.run.command:
        return PrestartingRunner()
    return run_experiment


def close_run_fn(run_fn: RunFn) -> None:
    """Stop whatever a runner keeps between runs (the prestarted child)."""
    close = getattr(run_fn, "close", None)
    if callable(close):
        close()


def seed_status(res: RunResult) -> SeedStatus:
    """How a seed's run ended, from the harness's result (an unknown status is a crash)."""
    return _SEED_STATUS.get(res.status, SeedStatus.CRASH)
