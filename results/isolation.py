"""Whether a night's runs were boxed: one definition of the notice the report and `status` give.

The harness records `boxed` (1 or 0) among each run's figures; ledgers written before it existed
have no such figure and are not flagged.
"""

from __future__ import annotations

from collections.abc import Iterable

from gg_research.results.record import Experiment

BOXED = "boxed"


def unboxed_notice(experiments: Iterable[Experiment]) -> str | None:
    """A line saying how many runs were not isolated, or None when every recorded run was."""
    runs: list[float] = []
    for e in experiments:
        seeds = [s.aux[BOXED] for s in e.seeds if BOXED in s.aux]
        runs += seeds or ([e.aux[BOXED]] if BOXED in e.aux else [])
    bare = [r for r in runs if r < 0.5]
    if not bare:
        return None
    return (f"{len(bare)} of {len(runs)} runs were NOT isolated (no bubblewrap, or [run] sandbox = \"off\"): "
            f"their train.py could read the labels and anything else on the machine, so their scores are not "
            f"guarded; install bubblewrap (sudo apt install bubblewrap) or set [run] sandbox = \"bwrap\" to refuse")
