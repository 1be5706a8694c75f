"""Argument types the commands share: one definition of "a positive number"."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def positive(kind: type[int] | type[float], upper: float | None = None) -> Callable[[str], int | float]:
    """An argparse type: a finite number above 0 (and at most `upper`); nan and inf are refused."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
        if upper is not None and value > upper:
            raise argparse.ArgumentTypeError(f"must be at most {upper:g}, got {text!r}")
        return value

    return parse
