"""One experiment in a child process: train the workspace's train.py under the budget, then
evaluate it on the fixed validation split and report.

    python -m harness.child --workspace W --run-dir D --seed K --budget S [--config JSON] [--device D]
    python -m harness.child --workspace W --run-dir - --prestart [--config JSON]   (then a JSON go line on stdin)

The summary block is printed LAST; last_run.json is written atomically and only on success.
Any failure prints one error line (harness.wire: `GG-RUN-ERROR: <reason>`) and exits non-zero.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from gg_research.harness import wire

EXIT_CRASH = 1
EXIT_DIVERGED = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m harness.child")
    p.add_argument("--workspace", required=True, type=Path)
    p.add_argument("--run-dir", required=True, type=Path)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--budget", type=float, default=None)
    p.add_argument("--config", type=Path, default=None, help="config as JSON (default: the workspace's gg-research.toml)")
    p.add_argument("--device", default=None)
    p.add_argument(
        "--prestart",
        action="store_true",
        help="import and load the data, then wait for one go line on stdin: {run_dir, seed, budget}",
    )
    return p.parse_args(argv)


def resolve_device(name: str):
    import torch

    from gg_research.errors import GGError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GGError(f"device {name!r} asked for, but CUDA is not available on this machine")
    return dev


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def load_train_module(path: Path):
    from gg_research.harness.errors import TrainContractError

    if not path.is_file():
        raise TrainContractError(f"{path}: no train.py in the workspace")
    spec = importlib.util.spec_from_file_location("gg_workspace_train", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "train", None)):
        raise TrainContractError(f"{path}: defines no function train(ctx)")
    return module


def peak_memory_mb(device) -> float:
    import resource

    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # ru_maxrss is in KiB on Linux: the peak resident size of this process.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in ("torch", "segmentation_models_pytorch", "monai", "kornia", "numpy"):
        try:
            out[name] = getattr(__import__(name), "__version__", "?")
        except Exception:  # a missing optional library is recorded, not fatal
            out[name] = "missing"
    return out


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _load_config(args: argparse.Namespace, workspace: Path):
    from gg_research.config import CONFIG_NAME, Config, load_config

    if args.config is not None:
        return Config.model_validate(json.loads(args.config.read_text(encoding="utf-8")))
    return load_config(workspace / CONFIG_NAME)


def _preload_libraries() -> None:
    """What nearly every train.py imports; done before the clock so start-up is off the budget."""
    import kornia  # noqa: F401
    import monai.losses  # noqa: F401
    import segmentation_models_pytorch  # noqa: F401
    import torch  # noqa: F401


def _wait_for_go(args: argparse.Namespace) -> bool:
    """Block until the runner sends this prestarted child its run; False on EOF (not needed)."""
    print(wire.format_ready(), flush=True)
    go = wire.parse_go(sys.stdin.readline())
    if go is None:
        return False
    args.run_dir, args.seed, args.budget = go.run_dir, go.seed, go.budget
    # The same environment a cold child gets from the runner.
    os.environ.update(GG_RUN_DIR=str(args.run_dir), GG_SEED=str(args.seed), GG_BUDGET=f"{args.budget:g}")
    return True


def run(args: argparse.Namespace) -> dict[str, Any] | None:
    t_start = time.monotonic()
    import torch

    from gg_research.ggnet.dataset import GGDataset
    from gg_research.harness.context import TrainContext
    from gg_research.harness.data import dataset_root
    from gg_research.harness.errors import TrainContractError
    from gg_research.harness.evaluate import evaluate
    from gg_research.harness.integrity import frozen_fingerprint
    from gg_research.harness.summary import format_summary

    workspace = args.workspace.resolve()
    config = _load_config(args, workspace)
    size = config.data.image_size
    train_py = workspace / "train.py"
    if not args.prestart:
        # train.py first: a syntax error shows before the (slower) dataset load.
        seed_everything(config.run.seed if args.seed is None else args.seed)
        module = load_train_module(train_py)

    root = dataset_root(workspace, config)
    cache = workspace / ".gg" / "cache"
    common = dict(bead_width_mm=config.data.bead_width_mm, cache_dir=cache)
    # Held as uint8 in memory, so loading never costs training time; batches are float.
    train_set = GGDataset(root, "train", size, **common)
    val_set = GGDataset(root, "val", size, **common)
    if not len(train_set) or not len(val_set):
        raise TrainContractError(f"{root}: the dataset needs samples in both the train and val splits")
    frozen = frozen_fingerprint(workspace, config, root)

    startup = "cold"
    if args.prestart:
        _preload_libraries()
        if not _wait_for_go(args):
            return None
        startup = "prestarted"
        t_start = time.monotonic()  # waiting for the run is nobody's start-up time
        seed_everything(args.seed)
        module = load_train_module(train_py)

    run_dir = args.run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    seed = config.run.seed if args.seed is None else args.seed
    budget = config.run.budget_s if args.budget is None else args.budget
    config.run.seed = seed
    config.run.budget_s = budget
    device = resolve_device(args.device or config.run.device)
    train_sha = hashlib.sha256(train_py.read_bytes()).hexdigest()

    amp_dtype = None
    if device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        torch.cuda.reset_peak_memory_stats(device)
    ctx = TrainContext(
        device=device,
        seed=seed,
        image_size=size,
        train_dataset=train_set,
        budget_s=budget,
        run_dir=run_dir,
        amp_dtype=amp_dtype,
        log_interval_s=max(1.0, min(10.0, budget / 50)),
    )
    print(f"[harness] training {train_py.name} on {device} for {budget:g}s ({len(train_set)} train / {len(val_set)} val images of {size}px, seed {seed})", flush=True)
    seed_everything(seed)  # the same random state whatever the data loading consumed
    startup_seconds = time.monotonic() - t_start
    ctx.start_clock()
    model = module.train(ctx)
    training_seconds = ctx.elapsed()
    if not isinstance(model, torch.nn.Module):
        raise TrainContractError(f"{train_py}: train(ctx) returned {type(model).__name__}, not a torch.nn.Module")

    t_eval = time.monotonic()
    scores = evaluate(model, val_set, device, config.run.eval_batch_size, ctx.autocast)
    eval_seconds = time.monotonic() - t_eval
    images = ctx.images_trained()
    summary: dict[str, Any] = {
        "pbqc": round(scores["pbqc"], 6),
        "dice": round(scores["dice"], 6),
        "training_seconds": round(training_seconds, 3),
        "total_seconds": round(time.monotonic() - t_start, 3),
        "eval_seconds": round(eval_seconds, 3),
        "num_steps": ctx.num_steps,
        "img_per_sec": round(images / training_seconds, 3) if training_seconds > 0 else 0.0,
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        "num_params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 4),
        "device": str(device),
        "seed": seed,
    }
    record = {
        **summary,
        "budget_s": budget,
        "num_images": images,
        "startup": startup,
        "startup_seconds": round(startup_seconds, 3),
        "dataset": str(root),
        "train_sha256": train_sha,
        "frozen": frozen,
        "versions": versions(),
        "config": config.model_dump(mode="json"),
    }
    write_json_atomic(run_dir / "last_run.json", record)
    print(format_summary(summary), flush=True)
    return record


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
        return 0
    except KeyboardInterrupt:
        print(wire.format_error("interrupted"), flush=True)
        return 130
    except BaseException as exc:  # noqa: BLE001 - every failure is one line for the runner
        from gg_research.harness.errors import TrainingDiverged

        traceback.print_exc(file=sys.stdout)
        msg = str(exc).strip() or type(exc).__name__
        print(wire.format_error(msg if isinstance(exc, TrainingDiverged) else f"{type(exc).__name__}: {msg}"), flush=True)
        return EXIT_DIVERGED if isinstance(exc, TrainingDiverged) else EXIT_CRASH


if __name__ == "__main__":
    sys.exit(main())
