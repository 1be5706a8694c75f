"""The untrusted side of a run: the process that imports and runs the workspace's train.py.

    python -m gg_research.harness.child --workspace W --view V --out O --config JSON --feed-fd N [--device D]

It loads the libraries and the inputs to predict on (harness.scorer: the validation and test
*inputs*), prints the ready line and waits for the go line on stdin; then it imports train.py,
trains on the training split the parent serves over the socket N (harness.feed), prints the
trained line, predicts on the validation inputs and writes predictions.npz and
train_report.json to O. It never sees a validation label and never scores: the parent does
(harness.runner). Any failure prints one error line (harness.wire) and exits
non-zero. In the sandbox (harness.sandbox) O and /tmp are the only places it can write.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path
from types import CodeType, ModuleType
from typing import TYPE_CHECKING, Any

from gg_research.harness import wire
from gg_research.harness.summary import write_json_atomic

if TYPE_CHECKING:
    import torch

EXIT_CRASH = 1
EXIT_DIVERGED = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gg_research.harness.child")
    p.add_argument("--workspace", required=True, type=Path)
    p.add_argument("--view", required=True, type=Path, help="the folder of inputs to predict on (harness.scorer)")
    p.add_argument("--feed-fd", required=True, type=int, help="the socket the parent serves training samples on")
    p.add_argument("--out", required=True, type=Path, help="the only folder the run writes")
    p.add_argument("--config", required=True, type=Path, help="the config as JSON")
    p.add_argument("--device", default=None)
    return p.parse_args(argv)


def resolve_device(name: str) -> torch.device:
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


def load_train_module(path: Path) -> ModuleType:
    """train.py compiled from its bytes, as committed: never from a bytecode cache (a planted
    `.pyc` beside it would run code the diff does not show). The workspace's other modules that
    train.py imports are read from source too (`source_only_imports`)."""
    import types

    from gg_research.harness.errors import TrainContractError

    if not path.is_file():
        raise TrainContractError(f"{path}: no train.py in the workspace")
    source_only_imports(path.parent)
    code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    module = types.ModuleType("gg_workspace_train")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    exec(code, module.__dict__)  # noqa: S102 - this process exists to run train.py
    if not callable(getattr(module, "train", None)):
        raise TrainContractError(f"{path}: defines no function train(ctx)")
    return module


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles the module from its source every time; bytecode caches are neither read nor written."""

    def get_code(self, fullname: str) -> CodeType:
        return compile(self.get_data(self.path), self.path, "exec", dont_inherit=True)


def source_only_imports(folder: Path) -> None:
    """Imports from `folder` (the workspace) come from `.py` sources alone: no `.pyc` beside them
    or in `__pycache__` is used, and a bare `.pyc` is not importable."""
    key = str(folder.resolve())
    if key not in sys.path:
        sys.path.insert(0, key)
    finder = importlib.machinery.FileFinder(key, (_SourceOnlyLoader, importlib.machinery.SOURCE_SUFFIXES))
    sys.path_importer_cache[key] = finder
    sys.dont_write_bytecode = True


def peak_memory_mb(device: torch.device) -> float:
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


def _preload_libraries() -> None:
    """What nearly every train.py imports; done before the clock so start-up is off the budget."""
    import kornia  # noqa: F401
    import monai.losses  # noqa: F401
    import segmentation_models_pytorch  # noqa: F401
    import torch  # noqa: F401


def _wait_for_go() -> wire.Go | None:
    """Block until the parent sends the run; None on EOF (the child was not needed)."""
    print(wire.format_ready(), flush=True)
    return wire.parse_go(sys.stdin.readline())


def run(args: argparse.Namespace) -> dict[str, Any] | None:
    t_start = time.monotonic()
    import numpy as np
    import torch

    from gg_research.config import Config
    from gg_research.ggnet.dataset import GGDataset
    from gg_research.workspace_map import WEIGHTS_FILE
    from gg_research.harness.context import TrainContext
    from gg_research.harness.errors import TrainContractError
    from gg_research.harness.evaluate import predict
    from gg_research.harness.served import ServedDataset
    from gg_research.harness.scorer import VIEW_TEST_INPUTS, VIEW_VAL_INPUTS
    from gg_research.workspace_map import PREDICTIONS_FILE as PREDICTIONS
    from gg_research.workspace_map import TEST_PREDICTIONS_FILE as PREDICTIONS_TEST
    from gg_research.workspace_map import TRAIN_REPORT_FILE as TRAIN_REPORT

    workspace = args.workspace.resolve()
    config = Config.model_validate(json.loads(args.config.read_text(encoding="utf-8")))
    size = config.data.image_size
    train_py = workspace / "train.py"
    # The view holds the validation inputs, never a label; the training split comes from the parent.
    val_inputs = GGDataset.load(args.view / VIEW_VAL_INPUTS, "val")
    # The sealed test split's inputs, predicted for the report; the decisions never see its score.
    test_inputs = GGDataset.load(args.view / VIEW_TEST_INPUTS, "test") if (args.view / VIEW_TEST_INPUTS).is_file() else None
    if not len(val_inputs):
        raise TrainContractError("the dataset needs samples in both the train and val splits")
    _preload_libraries()
    startup_seconds = time.monotonic() - t_start

    go = _wait_for_go()
    if go is None:
        return None
    seed, budget = go.seed, go.budget
    out = args.out.resolve()
    os.environ.update(GG_RUN_DIR=str(out), GG_SEED=str(seed), GG_BUDGET=f"{budget:g}")
    config.run.seed, config.run.budget_s = seed, budget
    seed_everything(seed)
    train_set = ServedDataset(args.feed_fd)  # the parent serves the split from the go line on
    # From here on train.py runs in this process: its import counts against the budget (the
    # parent's clock started with the go line), and nothing below is trusted by the parent.
    module = load_train_module(train_py)
    device = resolve_device(args.device or config.run.device)
    amp_dtype = None
    if device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        torch.cuda.reset_peak_memory_stats(device)
    ctx = TrainContext(
        device=device, seed=seed, image_size=size, train_dataset=train_set, budget_s=budget, run_dir=out,
        budget_images=go.images, amp_dtype=amp_dtype, log_interval_s=max(1.0, min(10.0, budget / 50)),
    )
    span = f"{go.images} images (at most {budget:g}s)" if go.images else f"{budget:g}s"
    print(f"[harness] training {train_py.name} on {device} for {span} ({len(train_set)} train / "
          f"{len(val_inputs)} val images of {size}px, seed {seed})", flush=True)
    seed_everything(seed)  # the same random state whatever importing train.py consumed
    ctx.start_clock()
    model = module.train(ctx)
    ctx.end_curve()
    # On a line of its own even when train.py left a line unfinished (output without a newline).
    sys.stdout.write("\n" + wire.format_trained() + "\n")
    sys.stdout.flush()
    if not isinstance(model, torch.nn.Module):
        raise TrainContractError(f"{train_py}: train(ctx) returned {type(model).__name__}, not a torch.nn.Module")
    t_eval = time.monotonic()
    theta, logits = predict(model, val_inputs, device, config.run.eval_batch_size, ctx.autocast)
    np.savez(out / PREDICTIONS, theta=theta.numpy(), mask_logits=logits.numpy())
    if test_inputs is not None and len(test_inputs):
        theta, logits = predict(model, test_inputs, device, config.run.eval_batch_size, ctx.autocast)
        np.savez(out / PREDICTIONS_TEST, theta=theta.numpy(), mask_logits=logits.numpy())
    # The trained weights, so the morning can use (or re-score) the best model; the loop keeps
    # them only for the baseline and kept runs.
    torch.save(model.state_dict(), out / WEIGHTS_FILE)
    report = {
        "num_steps": ctx.num_steps,
        "num_images": ctx.images_trained(),
        "training_seconds": round(ctx.elapsed(), 3),
        "predict_seconds": round(time.monotonic() - t_eval, 3),
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        "threads": torch.get_num_threads(),
        "num_params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 4),
        "device": str(device),
        "startup_seconds": round(startup_seconds, 3),
        "train_sha256": hashlib.sha256(train_py.read_bytes()).hexdigest(),
        "versions": versions(),
    }
    write_json_atomic(out / TRAIN_REPORT, report)
    return report


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
