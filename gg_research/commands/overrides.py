"""The one way a command's flags change the config: a copy with them applied, made once, in the command.

Everything downstream (the session, the trial, the harness) reads the budget, the seeds, the
workers and the device from the config it is given, and keeps no copy of its own.
"""

from __future__ import annotations

from typing import Any

from gg_research.config import Config


def with_flags(config: Config, *, budget_s: float | None = None, seed: int | None = None, device: str | None = None,
               baseline_seeds: int | None = None, workers: int | None = None) -> Config:
    """A copy of `config` with each flag that was given (not None) in place of the config's own value."""

    def given(**values: Any) -> dict[str, Any]:
        return {k: v for k, v in values.items() if v is not None}

    sections = {"run": (config.run, given(budget_s=budget_s, seed=seed, device=device)),
                "keep": (config.keep, given(baseline_seeds=baseline_seeds)),
                "parallel": (config.parallel, given(workers=workers))}
    return config.model_copy(update={name: part.model_copy(update=changes)
                                     for name, (part, changes) in sections.items() if changes})
