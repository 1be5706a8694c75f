"""The parent/child wire format: every line kind round-trips through its format and parse."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch

from gg_research.harness import wire


@pytest.mark.parametrize(
    "reason",
    ["RuntimeError: boom", "NaN loss at step 3", "cannot start 'x': [Errno 2] No such file"],
)
def test_error_line_round_trips(reason: str) -> None:
    line = wire.format_error(reason)
    assert "\n" not in line and wire.parse_error(line) == reason


def test_error_line_stays_one_line_and_is_found_anywhere_in_a_log() -> None:
    line = wire.format_error("ValueError: first line\n  second   line\n")
    assert "\n" not in line and wire.parse_error(line) == "ValueError: first line second line"
    assert wire.parse_error("[train] step 1 elapsed 0.1s left 1.0s loss=1") is None
    log = "\n".join(["Traceback ...", wire.format_error("old"), "noise", "12:00 " + wire.format_error("new"), "tail"])
    assert wire.last_error(log) == "new"
    assert wire.last_error("Traceback ...\nKeyError: 'x'\n") is None


def test_ready_line_round_trips() -> None:
    assert wire.parse_ready(wire.format_ready() + "\n")
    assert not wire.parse_ready("[harness] training train.py on cpu") and not wire.parse_ready("")


def test_go_line_round_trips_and_rejects_other_text(tmp_path: Path) -> None:
    go = wire.Go(tmp_path / "runs" / "r0001", 7, 12.5)
    line = wire.format_go(go)
    assert "\n" not in line and wire.parse_go(line + "\n") == go
    assert wire.parse_go("") is None and wire.parse_go("\n") is None  # stdin closed: not needed
    for bad in ('{"run_dir": "x"}', "go!", '["x", 1, 2]', '{"run_dir": "x", "seed": "a", "budget": 1}'):
        with pytest.raises(ValueError, match="not a go line"):
            wire.parse_go(bad)


@pytest.mark.parametrize(
    "progress",
    [
        wire.Progress(1, 0.04, 299.96, {"loss": 1.2345, "lr": 3e-4}),
        wire.Progress(1200, 61.25, 0.0, {"loss": -0.5, "seg": 1e5}),
        wire.Progress(3, 2.0, 8.0, {}),
    ],
)
def test_progress_line_round_trips(progress: wire.Progress) -> None:
    parsed = wire.parse_progress(wire.format_progress(progress))
    assert parsed is not None and parsed.step == progress.step
    assert math.isclose(parsed.elapsed, progress.elapsed, abs_tol=0.05)
    assert math.isclose(parsed.left, progress.left, abs_tol=0.05)
    assert parsed.scalars.keys() == progress.scalars.keys()
    for k, v in progress.scalars.items():
        assert math.isclose(parsed.scalars[k], v, rel_tol=1e-3), k
    assert wire.parse_progress(wire.format_progress(parsed)) == parsed  # formatting is stable


def test_progress_left_is_never_negative_and_other_lines_are_not_progress() -> None:
    line = wire.format_progress(wire.Progress(5, 10.0, -2.0, {"loss": 1.0}))
    assert wire.parse_progress(line).left == 0.0
    for other in ("[harness] ready", "step 5 loss 1", "---", wire.format_error("x")):
        assert wire.parse_progress(other) is None


def test_train_context_log_writes_progress_lines(tmp_path: Path) -> None:
    from gg_research.harness.context import TrainContext

    stream = io.StringIO()
    ctx = TrainContext(
        device=torch.device("cpu"), seed=0, image_size=8, train_dataset=[], budget_s=30.0,
        run_dir=tmp_path, log_interval_s=0.0, stream=stream,
    )
    ctx.start_clock()
    ctx.log(1, loss=torch.tensor(0.75), lr=1e-3)
    ctx.log(2, loss=0.5)
    # The same stream carries the curve's points (harness.curves), which are not progress lines.
    parsed = [wire.parse_progress(line) for line in stream.getvalue().splitlines() if not line.startswith("[curve]")]
    assert [p.step for p in parsed] == [1, 2]
    assert parsed[0].scalars == {"loss": 0.75, "lr": 1e-3} and parsed[1].scalars == {"loss": 0.5}
    assert 0.0 < parsed[0].left <= 30.0
