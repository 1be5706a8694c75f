"""A real workspace (gg-research init) on the real harness with a tiny, deterministic train.py.

The model predicts the identity transform and a constant mask, so its scores do not depend
on training noise: PREDICT_ALL = True scores a Dice above 0, False scores 0 exactly. That
makes "improve" a sure keep while the run still goes through the harness's subprocess,
budget clock, evaluation and last_run.json.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

TINY_TRAIN = textwrap.dedent('''\
    """Tiny deterministic model for loop tests on the real harness."""
    import time

    import torch
    import torch.nn as nn

    from gg_research.ggnet.output import GGOutput

    PREDICT_ALL = False  # search: choice(False, True)
    MODE = "ok"


    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(1))

        def forward(self, camera, render):
            b, _, h, w = camera.shape
            theta = torch.eye(3, device=camera.device).expand(b, 3, 3)
            fill = 10.0 if PREDICT_ALL else -10.0
            return GGOutput(theta=theta, mask_logits=torch.full((b, 1, h, w), fill, device=camera.device) + 0 * self.bias)


    def train(ctx):
        model = Tiny().to(ctx.device)
        step = 0
        while ctx.time_left() > 0:
            step += 1
            loss = (model.bias ** 2).sum() + 1.0
            if MODE == "crash":
                raise RuntimeError("boom from train.py")
            if MODE == "nan":
                loss = loss * float("nan")
            if MODE == "hang":
                time.sleep(3600)
            ctx.log(step, loss=float(loss))
            time.sleep(0.05)
        return model
    ''')


def dataset(cache: Path) -> Path:
    from gg_research.ggnet.synth import ensure_synthetic

    return Path(ensure_synthetic(cache, 24, 64, 0))


def make_real_workspace(path: Path, data: Path | None, *, budget_s: float = 1.5, hard_limit_s: float = 40.0,
                        train: str = TINY_TRAIN, seeds: int = 1) -> Path:
    """data=None: the workspace's own cached synthetic set (24 images at 64 px), as a new user's."""
    import subprocess

    from gg_research.workspace import init_workspace

    ws = init_workspace(path)
    (ws / "train.py").write_text(train, encoding="utf-8")
    toml = ws / "gg-research.toml"
    text = toml.read_text(encoding="utf-8")
    if data is None:
        text = text.replace("synth_n = 400", "synth_n = 24", 1).replace("synth_size = 128", "synth_size = 64", 1)
    else:
        text = text.replace('dataset = ""', f'dataset = "{data}"', 1)
    text = text.replace("image_size = 128", "image_size = 64", 1)
    text = text.replace("budget_s = 300.0", f"budget_s = {budget_s}", 1).replace("hard_limit_s = 0.0", f"hard_limit_s = {hard_limit_s}", 1)
    text = text.replace('device = "auto"', 'device = "cpu"', 1).replace("baseline_seeds = 3", f"baseline_seeds = {seeds}", 1)
    text = text.replace("eval_batch_size = 32", "eval_batch_size = 16", 1)
    toml.write_text(text, encoding="utf-8")
    for needle in (str(data) if data else "synth_n = 24", "image_size = 64", f"budget_s = {budget_s}", f"hard_limit_s = {hard_limit_s}"):
        assert needle in text, needle  # the template toml changed: fix the replacements above
    subprocess.run(["git", "-C", str(ws), "commit", "-qam", "tiny train.py for loop tests"], check=True)
    return ws
