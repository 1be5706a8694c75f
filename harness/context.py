"""The `ctx` that train.py's `train(ctx)` receives: device, data, the budget and logging.

The budget is time (`budget_s` seconds) or work (`budget_images` training images, with
`budget_s` as the time cap). Under the harness the training split is served by the parent
(harness.feed), which counts the images and serves none past an images budget. train.py asks `ctx.done()` and `ctx.progress()`, which mean the
same under either kind, so one train.py serves both; `time_left()` stays for older files.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from gg_research.ggnet.dataset import Sample, batch_loader
from gg_research.harness import wire
from gg_research.harness.curves import CurveWriter
from gg_research.harness.errors import TrainingDiverged
from gg_research.harness.feed import BudgetSpent
from gg_research.harness.served import ServedDataset, served_loader

_READ_ONLY = ("budget_s", "budget_images", "deadline", "started", "device", "seed", "image_size", "train_dataset", "run_dir")
# After this many steps a loss above EXPLODE_FACTOR x the running median is an explosion.
EXPLODE_WARMUP_STEPS = 20
EXPLODE_FACTOR = 1e4


class _CountingLoader:
    """Wraps a DataLoader so the harness counts the images train.py actually draws."""

    def __init__(self, loader: DataLoader[Any], ctx: TrainContext, batch_size: int, drop_last: bool) -> None:
        self._loader = loader
        self._ctx = ctx
        self._batch_size, self._drop_last = batch_size, drop_last

    def __len__(self) -> int:
        return len(self._loader)

    def __iter__(self) -> Iterator[Any]:
        batches = iter(self._loader)
        while not self._ctx.work_done():  # an images budget is spent: no batch past it, however train.py loops
            try:
                batch = next(batches)
            except (StopIteration, BudgetSpent):  # the parent serves nothing past the budget either
                return
            if isinstance(batch, dict) and torch.is_tensor(batch.get("camera")):
                n = int(batch["camera"].shape[0])
                self._ctx.images_drawn += n
                if n < self._batch_size and self._drop_last and self._ctx.budget_images:
                    return  # the budget's last images, fewer than a batch: dropped as drop_last asks
            yield batch


@dataclass
class TrainContext:
    device: torch.device
    seed: int
    image_size: int
    train_dataset: Dataset[Sample]
    budget_s: float
    run_dir: Path
    budget_images: int = 0
    amp_dtype: torch.dtype | None = None
    log_interval_s: float = 5.0
    stream: Any = field(default=None, repr=False)
    deadline: float = math.inf
    started: float | None = None
    num_steps: int = 0
    images_seen: int = 0
    images_drawn: int = 0
    _last_print: float = field(default=-math.inf, repr=False)
    _losses: deque[float] = field(default_factory=lambda: deque(maxlen=200), repr=False)
    _curve: CurveWriter | None = field(default=None, repr=False)

    @property
    def amp(self) -> bool:
        return self.amp_dtype is not None

    def __setattr__(self, name: str, value: Any) -> None:
        # The budget is kept by the parent process's clock; these only tell train.py about it.
        if name in _READ_ONLY and getattr(self, "started", None) is not None:
            raise AttributeError(f"ctx.{name} is read-only: the harness keeps the training budget")
        super().__setattr__(name, value)

    def start_clock(self) -> None:
        """Start the training budget (the harness calls this right before train())."""
        now = time.monotonic()
        self.deadline = now + self.budget_s
        self.started = now

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started

    def time_left(self) -> float:
        """Seconds of the time budget (or cap) left; 0 once an images budget is spent."""
        if self.work_done():
            return 0.0
        return self.deadline - time.monotonic()

    def work_done(self) -> bool:
        return self.budget_images > 0 and (self.images_trained() >= self.budget_images
                                           or bool(getattr(self.train_dataset, "spent", False)))

    def progress(self) -> float:
        """The fraction of the budget used, in [0, 1]: of the images under an images budget (so a
        schedule keyed on it is the same however busy the machine is), else of the time."""
        if self.budget_images > 0:
            return min(self.images_trained() / self.budget_images, 1.0)
        return min(max(self.elapsed() / self.budget_s, 0.0), 1.0)

    def done(self) -> bool:
        """True once the budget is spent (or the time cap of an images budget is reached)."""
        return self.work_done() or self.deadline - time.monotonic() <= 0

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """Mixed precision where it helps (CUDA); a no-op on CPU."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def loader(self, batch_size: int, shuffle: bool = True, drop_last: bool = True, **kw: Any) -> _CountingLoader:
        """A DataLoader of float batches over the training set (in memory, so no worker
        processes are needed; a GGDataset's uint8 items are converted a batch at a time)."""
        n = len(self.train_dataset)  # type: ignore[arg-type]
        batch_size = max(1, min(int(batch_size), n))  # a tiny set still yields batches
        gen = torch.Generator()
        gen.manual_seed(self.seed)
        kw.setdefault("pin_memory", self.device.type == "cuda")
        kw.setdefault("generator", gen)
        if isinstance(self.train_dataset, ServedDataset):
            dl = served_loader(self.train_dataset, batch_size, shuffle=shuffle, drop_last=drop_last, **kw)
        else:
            kw.setdefault("num_workers", 0)
            dl = batch_loader(self.train_dataset, batch_size, shuffle=shuffle, drop_last=drop_last, **kw)
        return _CountingLoader(dl, self, batch_size, drop_last)

    def log(self, step: int, **scalars: Any) -> None:
        """Record one training step; raise TrainingDiverged on a NaN/inf or exploding value.

        `n_images=` counts the images of the step (otherwise the loader's count is used).
        """
        n_images = scalars.pop("n_images", None)
        self.num_steps = max(self.num_steps + 1, int(step))
        if n_images is not None:
            self.images_seen += int(n_images)
        values: dict[str, float] = {}
        for key, value in scalars.items():
            values[key] = float(value.detach().float().item()) if torch.is_tensor(value) else float(value)
        self._curve_point(int(step), values)  # before the checks, so the curve shows where it broke
        for key, v in values.items():
            if not math.isfinite(v):
                raise TrainingDiverged(f"{'NaN' if math.isnan(v) else 'infinite'} {key} at step {step}")
        loss = values.get("loss")
        if loss is not None:
            if len(self._losses) >= EXPLODE_WARMUP_STEPS:
                median = statistics.median(self._losses)
                if abs(loss) > EXPLODE_FACTOR * max(abs(median), 1e-8):
                    self.end_curve()
                    raise TrainingDiverged(f"exploding loss at step {step}: {loss:.3g} vs running median {median:.3g}")
            self._losses.append(loss)
        now = time.monotonic()
        if step <= 1 or now - self._last_print >= self.log_interval_s:
            self._last_print = now
            if self.budget_images:  # the work done, for a progress bar of an images budget
                values["images"] = float(self.images_trained())
            line = wire.format_progress(wire.Progress(int(step), self.elapsed(), self.time_left(), values))
            print(line, file=self.stream or sys.stdout, flush=True)

    def _curve_point(self, step: int, values: dict[str, float]) -> None:
        if self._curve is None:
            self._curve = CurveWriter(self.stream or sys.stdout, self.budget_s)
        self._curve.point(step, self.images_trained(), values)

    def end_curve(self) -> None:
        """Print the last point logged (the harness calls this when train() returns)."""
        if self._curve is not None:
            self._curve.flush()

    def images_trained(self) -> int:
        """Images seen in training: the harness loader's count, or train.py's own, or the samples
        it took from the served split, whichever is largest (a train.py that draws batches some
        other way still reaches an images budget)."""
        return max(self.images_seen, self.images_drawn, int(getattr(self.train_dataset, "fetched", 0)))
