"""Throughput and load: one definition of a run skewed by a busy machine, for the loop and the report.

A run is load-skewed when the harness saw, from outside the run, that the machine was busier than
during the reference (the baseline seed that ran on the quietest machine): other processes used a
larger share of the CPUs (`machine_busy`, by at least the tolerance), or other processes used the
GPU. Only the parent's own measurements count: a run's figures (its image count, its threads)
cannot make it look starved. A change that is slow by its own code does not make the machine
busy, so it is not flagged: it is judged, and under a time budget its slowness costs it steps.

Ledgers written before `machine_busy` existed are read with the older rule (a throughput drop
while the run's CPU share fell), so their reports stay as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

THROUGHPUT = "img_per_sec"
CPU_SHARE = "cpu_share"
MACHINE_BUSY = "machine_busy"
GPU_OTHERS = "gpu_other_procs"
NUM_IMAGES = "num_images"
IMAGES_SERVED = "images_served"  # the parent's count of the training images it gave the run
BUDGET_IMAGES = "budget_images"


def reference(seed_aux: Sequence[Mapping[str, float]]) -> Mapping[str, float]:
    """The figures of the baseline seed on the quietest machine (the fastest, for older ledgers);
    {} when none has any."""
    quiet = [aux for aux in seed_aux if MACHINE_BUSY in aux]
    if quiet:
        return min(quiet, key=lambda aux: aux[MACHINE_BUSY])
    measured = [aux for aux in seed_aux if aux.get(THROUGHPUT, 0.0) > 0]
    return max(measured, key=lambda aux: aux[THROUGHPUT]) if measured else {}


def short_of_images(aux: Mapping[str, float]) -> str | None:
    """Why a run under an images budget did less work than its budget, in one line: the time cap
    ended it before the parent had served all its images (the machine was too busy, or the change
    too slow); None when it trained its budget, or had a time budget."""
    budget, served = aux.get(BUDGET_IMAGES, 0.0), aux.get(IMAGES_SERVED)
    if budget <= 0 or served is None or served >= budget:
        return None
    return f"cut short: trained {served:.0f} of its {budget:.0f} images before the time cap"


def load_skew(aux: Mapping[str, float], ref: Mapping[str, float], tolerance: float) -> str | None:
    """Why a run's figures are skewed by load, in one line; None when they are not. A run cut short
    of its images budget (`short_of_images`) is skewed whatever the machine's load."""
    short = short_of_images(aux)
    if short is not None:
        return f"load-skewed: {short}"
    if MACHINE_BUSY in aux:
        busy, ref_busy = aux[MACHINE_BUSY], ref.get(MACHINE_BUSY, 0.0)
        if busy - ref_busy >= tolerance:
            return (f"load-skewed: other processes used {busy:.0%} of the CPUs during this run, "
                    f"{ref_busy:.0%} during the baseline's")
        if aux.get(GPU_OTHERS, 0.0) > ref.get(GPU_OTHERS, 0.0):
            return f"load-skewed: {aux[GPU_OTHERS]:g} other process(es) on the GPU during this run"
        return None
    return _older_rule(aux, ref, tolerance)


def _older_rule(aux: Mapping[str, float], ref: Mapping[str, float], tolerance: float) -> str | None:
    tp, ref_tp = aux.get(THROUGHPUT, 0.0), ref.get(THROUGHPUT, 0.0)
    if tp <= 0 or ref_tp <= 0 or tp >= (1.0 - tolerance) * ref_tp:
        return None
    share, ref_share = aux.get(CPU_SHARE), ref.get(CPU_SHARE)
    starved = share is not None and ref_share is not None and share < (1.0 - tolerance) * ref_share
    gpu_busy = aux.get(GPU_OTHERS, 0.0) > ref.get(GPU_OTHERS, 0.0)
    if not (starved or gpu_busy):
        return None
    why = (f"its processes got {share:.0%} of the CPU they asked for, the baseline's {ref_share:.0%}" if starved
           else f"{aux.get(GPU_OTHERS, 0.0):g} other process(es) on the GPU")
    return f"load-skewed: {tp:.1f} img/s against the baseline's {ref_tp:.1f} while the machine was busy ({why})"
