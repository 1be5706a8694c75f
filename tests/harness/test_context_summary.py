"""The training context's divergence checks and budget clock, and the summary block format."""

from __future__ import annotations

import io
import math
import time
from pathlib import Path

import pytest
import torch

from gg_research.harness.context import TrainContext
from gg_research.harness.errors import TrainingDiverged
from gg_research.harness.summary import SUMMARY_KEYS, format_summary, parse_summary


def _ctx(tmp_path: Path, budget: float = 10.0, images: int = 0) -> TrainContext:
    items = [{"camera": torch.zeros(3, 8, 8), "id": str(i)} for i in range(5)]
    return TrainContext(torch.device("cpu"), 0, 8, items, budget, tmp_path, budget_images=images, stream=io.StringIO())


def test_an_images_budget_ends_training_at_its_count_however_train_py_loops(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, budget=60.0, images=8)
    ctx.start_clock()
    loader, progress = ctx.loader(4), []
    while not ctx.done():
        for _ in loader:  # one batch of 4 per epoch of the 5 items
            progress.append(ctx.progress())
    assert progress == [0.5, 1.0] and ctx.images_trained() == 8
    assert ctx.time_left() == 0.0
    assert list(loader) == []  # a train.py that loops on gets no batch past the budget
    with pytest.raises(AttributeError, match="read-only"):
        ctx.budget_images = 100


def test_a_time_budget_reports_progress_by_the_clock(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, budget=0.2)
    ctx.start_clock()
    assert 0.0 <= ctx.progress() < 0.5 and not ctx.done()
    time.sleep(0.25)
    assert ctx.progress() == 1.0 and ctx.done()


@pytest.mark.parametrize("bad,word", [(math.nan, "NaN"), (math.inf, "infinite"), (-math.inf, "infinite")])
def test_log_raises_on_non_finite_values(tmp_path: Path, bad: float, word: str) -> None:
    ctx = _ctx(tmp_path)
    ctx.log(1, loss=1.0)
    with pytest.raises(TrainingDiverged, match=rf"{word} loss at step 2"):
        ctx.log(2, loss=torch.tensor(bad))


def test_log_detects_explosion_only_after_warmup(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    ctx.log(1, loss=1e6)  # early spikes are normal; no median yet
    for step in range(2, 40):
        ctx.log(step, loss=0.5)
    ctx.log(40, loss=100.0)  # a spike well under 1e4 x median is tolerated
    with pytest.raises(TrainingDiverged, match="exploding loss at step 41"):
        ctx.log(41, loss=1e5)


def test_log_counts_steps_and_images_and_prints(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    ctx.log(1, loss=0.25, n_images=4)
    ctx.log(2, loss=0.2, n_images=4)
    assert ctx.num_steps == 2 and ctx.images_trained() == 8
    assert "step 1" in ctx.stream.getvalue() and "loss=0.25" in ctx.stream.getvalue()


def test_loader_counts_images_and_clamps_batch(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    batches = list(ctx.loader(64))  # more than the 5 items: still one batch, not none
    assert len(batches) == 1 and batches[0]["camera"].shape[0] == 5
    assert ctx.images_trained() == 5


def test_budget_clock_starts_only_when_told(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, budget=0.2)
    assert ctx.time_left() == math.inf
    ctx.start_clock()
    assert 0 < ctx.time_left() <= 0.2
    time.sleep(0.25)
    assert ctx.time_left() < 0


def test_summary_round_trip_keeps_order_and_types() -> None:
    s = {"pbqc": 0.712345, "dice": 0.5, "training_seconds": 3.25, "total_seconds": 9.0, "eval_seconds": 0.4,
         "num_steps": 120, "img_per_sec": 33.3, "peak_memory_mb": 812.5, "num_params_M": 1.23,
         "num_images": 480, "images_served": 484, "machine_busy": 0.03, "load_1m": 2.1, "device": "cpu", "seed": 7}
    block = format_summary(s)
    lines = block.splitlines()
    assert lines[0] == "---"
    assert [ln.split(":")[0] for ln in lines[1:]] == list(SUMMARY_KEYS)
    log = "step 1 loss 3\n---\nold: 1\n" + block + "\n"
    parsed = parse_summary(log)
    assert parsed == s  # the last block wins, numbers come back as numbers
    assert isinstance(parsed["num_steps"], int) and isinstance(parsed["pbqc"], float)


def test_parse_summary_of_a_crash_log_is_empty() -> None:
    assert parse_summary("Traceback...\nGG-RUN-ERROR: boom\n") == {}
