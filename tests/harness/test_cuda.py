"""The CUDA path (mixed precision, channels-last, GPU memory figures). Skipped without a GPU;
run it on a lent GPU machine: `python -m pytest tests/harness/test_cuda.py`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gg_research.harness.runner import run_experiment
from tests.harness.standin import make_workspace

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.slow
def test_tiny_run_on_cuda_uses_the_gpu_and_reports_its_memory(tmp_path: Path, dataset: Path) -> None:
    ws = make_workspace(tmp_path / "ws", dataset, budget_s=3.0)
    text = (ws / "gg-research.toml").read_text().replace('device = "cpu"', 'device = "cuda"')
    (ws / "gg-research.toml").write_text(text)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=300)
    assert res.status == "ok", res.error
    assert res.summary["device"].startswith("cuda")
    assert 0.0 < res.metrics["peak_memory_mb"] < torch.cuda.get_device_properties(0).total_memory / 2**20
    assert 0.0 <= res.metrics["pbqc"] <= 1.0 and 0.0 <= res.metrics["dice"] <= 1.0
    assert res.metrics["num_steps"] >= 1
    # What the machine was doing: the GPU's other users and its clocks, where nvidia-smi says.
    import shutil

    if shutil.which("nvidia-smi"):
        assert res.metrics["gpu_other_procs"] >= 0 and 0 < res.metrics["gpu_sm_clock_mhz"] <= res.metrics["gpu_sm_clock_max_mhz"]
