"""Whether a run that ended late broke its budget, or a busy machine made it late.

The parent's clock gives a run its budget, a grace for the step in flight and a time for its
predictions. Late on a quiet machine is over the budget. While other processes kept at least
BUSY of the CPUs, the allowed time stretches with their share (up to MAX_STRETCH times), and on
a CPU the run's own work must still fit what the usable CPUs give in the allowed time: an honest
run starved by others does less, one that trains on does more. A run that got under
MIN_WORK_SHARE of a CPU over its time was idle (asleep, hung), and a busy machine does not
excuse it.
"""

from __future__ import annotations

from gg_research.config import RunSection
from gg_research.harness.load import MachineMeter

BUSY = 0.25  # others used at least this share of the CPUs: lateness may be the machine's, not the run's
MAX_STRETCH = 5.0  # the most a busy machine stretches the allowed time
MIN_WORK_SHARE = 0.05  # a starved run still gets some CPU (the kernel shares it fairly); an idle one does not


def over_budget(took: float, allowed: float, meter: MachineMeter, *, on_gpu: bool, run: RunSection,
                budget: float) -> str | None:
    """Why a run that took `took` seconds of the `allowed` is over its budget, or None when the
    machine explains the lateness (and the run's CPU work, on a CPU, fits the allowed time)."""
    busy = meter.others_share()
    meter.sample()
    work = meter.run_cpu_seconds()
    idle = not on_gpu and work < MIN_WORK_SHARE * took
    if busy >= BUSY and not idle and took <= allowed / max(1.0 - busy, 1.0 / MAX_STRETCH) and (
            on_gpu or work <= allowed * meter.cpus):
        return None
    grace, preds = run.grace(budget), run.eval_limit(budget)
    return (f"trained past its budget: no predictions {took:.0f} s after its start on a {budget:g} s budget "
            f"({grace:g} s grace, {preds:g} s for the predictions), with {work:.0f} CPU seconds of work; "
            f"other processes used {busy:.0%} of the CPUs")
