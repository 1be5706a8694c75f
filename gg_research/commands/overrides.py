"""The one way a command's flags change the config: a copy with them applied, made once, in the command.

Everything downstream (the session, the trial, the harness) reads the budget, the seeds, the
workers and the device from the config it is given, and keeps no copy of its own.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from gg_research.config import Config
from gg_research.errors import ConfigError

# The flag that sets each field, to name it in an error.
_FLAGS = {("run", "budget_s"): "--budget", ("run", "seed"): "--seed", ("run", "device"): "--device",
          ("keep", "baseline_seeds"): "--baseline-seeds", ("parallel", "workers"): "--workers"}


def with_flags(config: Config, *, budget_s: float | None = None, seed: int | None = None, device: str | None = None,
               baseline_seeds: int | None = None, workers: int | None = None) -> Config:
    """A copy of `config` with each flag that was given (not None) in place of the config's own value.

    The copy is validated as the config file is, so a flag cannot set what the file could not
    (e.g. more workers than [parallel] allows); ConfigError names the flag.
    """

    def given(**values: Any) -> dict[str, Any]:
        return {k: v for k, v in values.items() if v is not None}

    sections = {"run": given(budget_s=budget_s, seed=seed, device=device),
                "keep": given(baseline_seeds=baseline_seeds),
                "parallel": given(workers=workers)}
    raw = config.model_dump(by_alias=True)
    for name, changes in sections.items():
        raw[name] = {**raw[name], **changes}
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = tuple(str(p) for p in first["loc"][:2])
        flag = _FLAGS.get((where[0], where[1]) if len(where) == 2 else where, ".".join(where))
        raise ConfigError(f"{flag}: {first['msg'].removeprefix('Value error, ')}") from None
