"""The lines a harness child and its parent exchange, in one place.

The child writes to its stdout (which the runner copies to run.log) and reads one line on stdin:

- error line    `GG-RUN-ERROR: <reason>`: why the run failed, one line, printed last;
- ready line    `[harness] ready`: the child has loaded the libraries and its data and waits;
- go line       `{"run_dir": ..., "seed": ..., "budget": ...}` on stdin: the run it waits for
                (the parent's clock of the training budget starts when it sends it);
- progress line `[train] step N elapsed Es left Ls k=v ...`: what `ctx.log` prints;
- trained line  `[harness] trained`: train() returned; the parent's clock stops at the first one;
- curve line    `[curve] step N images I k=v ...`: a point of the training curves (harness.curves
                owns its format; the parent keeps these out of run.log).

Everything after the go line is written by a process that runs train.py, so the parent only
ever trusts *when* a line arrives, never what it claims.

The summary block that ends a successful run is harness.summary's. Each kind has a format_*
function the writer calls and a parse_* function the reader calls, so the two cannot drift.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ERROR_MARK = "GG-RUN-ERROR:"
READY = "[harness] ready"
TRAINED = "[harness] trained"
_PROGRESS_RE = re.compile(r"^\[train\] step (\d+) elapsed ([\d.]+)s left ([\d.]+)s ?(.*)$")


def format_error(reason: str) -> str:
    """The error line; whitespace (newlines included) collapses so it stays one line."""
    return f"{ERROR_MARK} {' '.join(reason.split())}"


def parse_error(line: str) -> str | None:
    """The reason of an error line (the mark may follow other text), else None."""
    _, mark, reason = line.partition(ERROR_MARK)
    return reason.strip() if mark else None


def last_error(text: str) -> str | None:
    """The reason of the last error line in a log, or None when it has none."""
    reasons = [r for r in map(parse_error, text.splitlines()) if r is not None]
    return reasons[-1] if reasons else None


def format_ready() -> str:
    return READY


def parse_ready(line: str) -> bool:
    return line.strip() == READY


def format_trained() -> str:
    return TRAINED


def parse_trained(line: str) -> bool:
    return line.strip() == TRAINED


@dataclass(frozen=True)
class Go:
    """The run a prestarted child is told to do."""

    run_dir: Path
    seed: int
    budget: float
    images: int = 0  # an images budget (0: the time budget alone ends training)


def format_go(go: Go) -> str:
    return json.dumps({"run_dir": str(go.run_dir), "seed": go.seed, "budget": go.budget, "images": go.images})


def parse_go(line: str) -> Go | None:
    """The run of a go line; None for an empty line (the parent closed stdin: not needed).

    Raises ValueError for a line that is not a go line.
    """
    if not line.strip():
        return None
    try:
        data = json.loads(line)
        return Go(Path(data["run_dir"]), int(data["seed"]), float(data["budget"]), int(data.get("images", 0)))
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"not a go line ({exc}): {line.strip()[:80]!r}") from None


@dataclass(frozen=True)
class Progress:
    """One training step as `ctx.log` reports it."""

    step: int
    elapsed: float
    left: float
    scalars: dict[str, float] = field(default_factory=dict)

    def scalars_text(self) -> str:
        return " ".join(f"{k}={v:.4g}" for k, v in self.scalars.items())


def format_progress(p: Progress) -> str:
    line = f"[train] step {p.step} elapsed {p.elapsed:.1f}s left {max(p.left, 0.0):.1f}s"
    return f"{line} {p.scalars_text()}"


def parse_progress(line: str) -> Progress | None:
    """The step of a progress line, else None (scalars that are not `k=number` are skipped)."""
    m = _PROGRESS_RE.match(line.strip())
    if m is None:
        return None
    step, elapsed, left, rest = m.groups()
    scalars: dict[str, float] = {}
    for part in rest.split():
        key, sep, value = part.partition("=")
        try:
            if sep:
                scalars[key] = float(value)
        except ValueError:
            continue
    return Progress(int(step), float(elapsed), float(left), scalars)
