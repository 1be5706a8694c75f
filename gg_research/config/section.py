"""The base of every table of gg-research.toml: strict, so a misspelt key or an infinite number is an error."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # extra="forbid" so a misspelt key is an error, not a silently ignored setting; no NaN or
    # infinity where a number is asked for (a budget of inf would never end).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
