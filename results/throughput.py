"""Throughput and load: one definition of a run skewed by a busy machine, for the loop and the report.

A run is load-skewed when it trained well below the reference throughput (the fastest seed of the
baseline: this machine at its least busy) *and* the harness saw why from outside: its processes
got a smaller share of the CPU they asked for than the reference did, or other processes used
the GPU. A change that is slow by its own code keeps its CPU share, so it is not flagged: it is
judged, and under a time budget its slowness costs it steps, as it should.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

THROUGHPUT = "img_per_sec"
CPU_SHARE = "cpu_share"
GPU_OTHERS = "gpu_other_procs"
NUM_IMAGES = "num_images"


def reference(seed_aux: Sequence[Mapping[str, float]]) -> Mapping[str, float]:
    """The figures of the fastest run among `seed_aux` (the baseline's seeds); {} when none has any."""
    measured = [aux for aux in seed_aux if aux.get(THROUGHPUT, 0.0) > 0]
    return max(measured, key=lambda aux: aux[THROUGHPUT]) if measured else {}


def load_skew(aux: Mapping[str, float], ref: Mapping[str, float], tolerance: float) -> str | None:
    """Why a run's figures are skewed by load, in one line; None when they are not."""
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
