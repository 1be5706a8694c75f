"""Does the segmenter use the G-code? A trained model's Dice when its render is aligned by its own STN,
by the true transform, not aligned at all, or blank.

    python benchmarks/bench_render_reliance.py WORKSPACE [--experiment e0001] [--split val]

WORKSPACE is a gg-research workspace after a night (`gg-research loop --max-experiments 1` is the
shortest); the baseline and the kept runs keep their weights. The experiment's own
train.py (from its commit) builds the model, the weights are loaded, and the split is predicted
four times, changing only the render the segmenter sees:

- `stn`: as trained (the model's own alignment; what the night scored),
- `true`: the render warped by the ground-truth transform (perfect alignment),
- `unaligned`: the identity transform (the render as sliced, misaligned by the camera),
- `other`: the next image's render (the G-code of another part), aligned by the STN,
- `blank`: an empty render (no G-code at all; an input the model never saw in training).

`stn - other` is what this image's G-code is worth to the segmentation; `true - stn` what better alignment
could still give it. Where both are about zero the segmenter has learnt to ignore its render, and
PBQC and Dice can move independently. The model must be GG-Net's (an `.stn` returning
(theta, raw) and a `.segmenter`), as `gg-research init` writes it. Prints `key: value` lines.
Seconds on a CPU at 64 px.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONDITIONS = ("stn", "true", "unaligned", "other", "blank")


class _FixedTransform(nn.Module):
    """Stands in for the STN: returns the transforms it is given, batch by batch, in order."""

    def __init__(self, stn: nn.Module, thetas: torch.Tensor | None) -> None:
        super().__init__()
        self.stn = stn
        self.thetas = thetas
        self.start = 0

    def forward(self, camera: torch.Tensor, render: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        theta, raw = self.stn(camera, render)
        n = camera.shape[0]
        if self.thetas is None:  # identity
            fixed = torch.eye(3, device=theta.device).expand(n, 3, 3).clone()
        else:
            fixed = self.thetas[self.start:self.start + n].to(theta.device, theta.dtype)
        self.start += n
        return fixed, raw


class _SwappedRender(torch.utils.data.Dataset):
    """The split with each image's render replaced: by the next image's (`other`) or by zeros (`blank`)."""

    def __init__(self, base, how: str) -> None:
        self.base, self.how = base, how

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.base[i])
        if self.how == "blank":
            item["render"] = torch.zeros_like(item["render"])
        else:
            item["render"] = self.base[(i + 1) % len(self.base)]["render"]
        return item


def _experiment(ws: Path, wanted: str | None):
    from gg_research.workspace_map import WEIGHTS_FILE
    from gg_research.results.ledger import LedgerFile

    ledger = LedgerFile(ws).read()
    with_weights = [(e, s) for e in ledger.experiments for s in e.seeds
                    if s.ok and s.run_dir and (ws / s.run_dir / WEIGHTS_FILE).is_file()]
    if wanted is not None:
        with_weights = [(e, s) for e, s in with_weights if e.id == wanted]
    if not with_weights:
        which = f"experiment {wanted}" if wanted else "any experiment"
        raise SystemExit(f"bench_render_reliance: {ws}: no saved weights for {which} (the baseline and kept runs keep theirs)")
    return with_weights[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--experiment", default=None, help="experiment id (default: the first with saved weights, "
                                                       "usually the baseline)")
    ap.add_argument("--split", choices=["val", "test"], default="val")
    args = ap.parse_args()
    torch.set_num_threads(1)

    from gg_research.config import load_config
    from gg_research.workspace_map import WEIGHTS_FILE, WorkspaceMap
    from gg_research.ggnet.dataset import GGDataset
    from gg_research.harness.child import load_train_module
    from gg_research.harness.data import dataset_root
    from gg_research.harness.evaluate import predict, score

    ws = args.workspace.resolve()
    cfg = load_config(ws / "gg-research.toml")
    exp, seed = _experiment(ws, args.experiment)
    source = subprocess.run(["git", "-C", str(ws), "show", f"{exp.commit}:train.py"], check=True,
                            capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.py"
        path.write_text(source, encoding="utf-8")
        module = load_train_module(path)
    model = module.GGNet()
    model.load_state_dict(torch.load(ws / seed.run_dir / WEIGHTS_FILE, map_location="cpu"))
    if not isinstance(getattr(model, "stn", None), nn.Module) or not isinstance(getattr(model, "segmenter", None), nn.Module):
        raise SystemExit("bench_render_reliance: the model has no .stn and .segmenter (not GG-Net's layout)")
    labels = GGDataset(dataset_root(ws, cfg), args.split, cfg.data.image_size, bead_width_mm=cfg.data.bead_width_mm,
                       cache_dir=WorkspaceMap(ws).cache)
    items = [labels[i] for i in range(len(labels))]
    if not all(bool(item["has_theta"]) for item in items):
        raise SystemExit(f"bench_render_reliance: {args.split} has images without a known transform (real photos); "
                         "the `true` condition needs it for every image")
    true_thetas = torch.stack([item["theta"].float() for item in items])
    device = torch.device("cpu")
    stn = model.stn
    print(f"experiment: {exp.id} ({exp.title or exp.status.value}), seed {seed.seed}")
    print(f"split: {args.split} ({len(labels)} images, {cfg.data.image_size} px)")
    figures: dict[str, dict[str, float]] = {}
    for condition in CONDITIONS:
        inputs = labels
        if condition == "true":
            model.stn = _FixedTransform(stn, true_thetas)
        elif condition == "unaligned":
            model.stn = _FixedTransform(stn, None)
        else:
            model.stn = stn
            if condition in ("other", "blank"):
                inputs = _SwappedRender(labels, condition)
        theta, logits = predict(model, inputs, device, batch_size=32)
        # PBQC of what the segmenter was shown; Dice always against the same labels.
        figures[condition] = score(theta, logits, labels)
        if condition not in ("other", "blank"):  # without this image's render there is nothing aligned to score
            print(f"{condition}_pbqc: {figures[condition]['pbqc']:.4f}")
        print(f"{condition}_dice: {figures[condition]['dice']:.4f}", flush=True)
    print(f"gcode_worth_dice: {figures['stn']['dice'] - figures['other']['dice']:+.4f}")
    print(f"alignment_headroom_dice: {figures['true']['dice'] - figures['stn']['dice']:+.4f}")
    print(f"alignment_worth_dice: {figures['stn']['dice'] - figures['unaligned']['dice']:+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
