"""Strict JSON for the CLI's `--json` output: what any JSON parser reads, never `NaN` or `Infinity`.

Python's json module writes non-finite floats as the JavaScript words NaN/Infinity, which
strict parsers (jq, JavaScript's JSON.parse, Go, Rust) refuse. A non-finite number means
"unknown" here (a layer height a fragment never states, a score that could not be computed),
so it becomes null; `allow_nan=False` then guarantees nothing else slips through.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite_or_null(value: Any) -> Any:
    """`value` with every non-finite float inside dicts, lists and tuples replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """json.dumps of `value` as strict JSON (non-finite floats as null)."""
    return json.dumps(finite_or_null(value), allow_nan=False, **kwargs)
