"""The trusted side of a run: what the trainer may see, how its predictions are scored, and
the check that the validation data did not change.

The process that runs train.py (harness.child) gets a *view* of the data: of the validation and
test splits only the inputs (camera image and toolpath render); the training split it gets from
the parent a batch at a time (harness.feed), so the parent counts the images it trained on. It
writes its predictions to a file; the scorer, in the parent that never imports train.py,
reads them and the validation labels, which only it holds, and computes PBQC and Dice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gg_research.config import Config
from gg_research.ggnet.manifest import split_fingerprint
from gg_research.ggnet.render_cache import renderer_digest
from gg_research.harness.errors import NotComparable, TrainContractError
from gg_research.workspace_map import PER_IMAGE_FILE, WorkspaceMap
from gg_research.workspace_map import PREDICTIONS_FILE as PREDICTIONS

if TYPE_CHECKING:
    import numpy as np

    from gg_research.ggnet.dataset import GGDataset

VIEW_TRAIN = "train.npz"
VIEW_VAL_INPUTS = "val_inputs.npz"
VIEW_TEST_INPUTS = "test_inputs.npz"  # only when the dataset has a test split
SPLITS = ("train", "val", "test")


VIEW_INPUTS = "inputs"  # the folder the run's box holds: the validation and test inputs


@dataclass(frozen=True)
class TrainerView:
    """The data a trainer may have: the training split, which the parent serves (harness.feed),
    and the folder of inputs to predict on, which the run reads (read-only in the sandbox)."""

    dir: Path

    @property
    def train(self) -> Path:
        return self.dir / VIEW_TRAIN

    @property
    def inputs(self) -> Path:
        return self.dir / VIEW_INPUTS

    @property
    def val_inputs(self) -> Path:
        return self.inputs / VIEW_VAL_INPUTS

    @property
    def test_inputs(self) -> Path:
        return self.inputs / VIEW_TEST_INPUTS


def data_state(root: Path) -> dict[str, str]:
    """Fingerprints of the dataset's splits: compared before and after a run to catch tampering."""
    from gg_research.ggnet.manifest import read_manifest

    present = {s.split for s in read_manifest(root)}
    # train and val are required (their absence is the dataset's error); a test split is optional.
    return {split: split_fingerprint(root, split) for split in SPLITS if split != "test" or split in present}


def trainer_view(workspace: Path, config: Config, root: Path, state: dict[str, str]) -> TrainerView:
    """The trainer's view of the dataset, built once per (data, size, renderer) under .gg/views/."""
    key = hashlib.sha256(json.dumps({
        **state, "size": config.data.image_size, "bead": config.data.bead_width_mm, "renderer": renderer_digest(),
        "layout": 2,  # the training split beside the inputs' folder, not in it
    }, sort_keys=True).encode()).hexdigest()[:24]
    view = TrainerView(WorkspaceMap(Path(workspace)).views / key)
    if view.train.is_file() and view.val_inputs.is_file():
        return view
    tmp = view.dir.with_name(f".{key}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / VIEW_INPUTS).mkdir(parents=True)
    _split(workspace, root, config, "train").save(tmp / VIEW_TRAIN)
    val_labels(workspace, root, config, state["val"]).save(tmp / VIEW_INPUTS / VIEW_VAL_INPUTS, fields=("camera", "render"))
    test = test_labels(workspace, root, config, state["test"]) if "test" in state else None
    if test is not None:
        test.save(tmp / VIEW_INPUTS / VIEW_TEST_INPUTS, fields=("camera", "render"))
    if view.train.is_file() and view.val_inputs.is_file():  # a run beside this one built it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
        return view
    shutil.rmtree(view.dir, ignore_errors=True)  # a partial one (a run killed while it wrote)
    try:
        os.replace(tmp, view.dir)  # atomic: a reader sees no view or the whole one
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (view.train.is_file() and view.val_inputs.is_file()):  # not a concurrent winner: a real failure
            raise
    return view


# (dataset root, image size, bead width, split, fingerprint) -> the split with its labels
_LABELS: dict[tuple[str, int, float, str, str], GGDataset] = {}
_TRAIN: dict[Path, GGDataset] = {}


def train_split(view: TrainerView) -> GGDataset:
    """The training split the parent serves to runs (harness.feed), loaded once per process."""
    from gg_research.ggnet.dataset import GGDataset

    if view.train not in _TRAIN:
        _TRAIN.clear()  # one view at a time: the data or the size changed
        split = GGDataset.load(view.train, "train")
        if not len(split):
            raise TrainContractError("the dataset needs samples in both the train and val splits")
        _TRAIN[view.train] = split
    return _TRAIN[view.train]


def val_labels(workspace: Path, root: Path, config: Config, val_fingerprint: str) -> GGDataset:
    """The validation split with its labels, loaded once per process (and per data/size).

    `val_fingerprint` is the split's `data_state`, which the run has just taken."""
    return _held(workspace, root, config, "val", val_fingerprint)


def test_labels(workspace: Path, root: Path, config: Config, test_fingerprint: str | None) -> GGDataset | None:
    """The sealed test split with its labels (None when the dataset has none): scored for the
    report only, never for a decision, so the night cannot select on it."""
    return None if test_fingerprint is None else _held(workspace, root, config, "test", test_fingerprint)


def _held(workspace: Path, root: Path, config: Config, split: str, fingerprint: str) -> GGDataset:
    key = (str(root), config.data.image_size, config.data.bead_width_mm, split, fingerprint)
    if key not in _LABELS:
        for old in [k for k in _LABELS if k[3] == split]:
            del _LABELS[old]
        _LABELS[key] = _split(workspace, root, config, split)
    return _LABELS[key]


def _split(workspace: Path, root: Path, config: Config, split: str) -> GGDataset:
    from gg_research.ggnet.dataset import GGDataset

    return GGDataset(root, split, config.data.image_size, bead_width_mm=config.data.bead_width_mm,
                     cache_dir=WorkspaceMap(Path(workspace)).cache)


def score_predictions(out_dir: Path, labels: GGDataset, batch_size: int, predictions: str = PREDICTIONS,
                      evidence: bool = True) -> dict[str, float]:
    """PBQC and Dice of the child's predictions; TrainContractError when they are missing or malformed.

    evidence=True also writes the per-image counts (PER_IMAGE_FILE) beside them."""
    import numpy as np
    import torch

    from gg_research.harness.evaluate import score

    path = Path(out_dir) / predictions
    n, size = len(labels), labels.image_size
    if not path.is_file() or path.is_symlink():
        raise TrainContractError("no predictions were written (the run ended before the evaluation)")
    members = _checked_members(path, n, size)
    try:
        with np.load(path, allow_pickle=False) as z:
            theta, logits = np.asarray(z[members["theta"]]), np.asarray(z[members["mask_logits"]])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise TrainContractError(f"{predictions} cannot be read: {' '.join(str(exc).split())[:200]}") from None
    if theta.shape != (n, 3, 3) or logits.shape != (n, 1, size, size):
        raise TrainContractError(f"predictions of shapes {theta.shape} and {logits.shape}; expected ({n}, 3, 3) "
                                 f"and ({n}, 1, {size}, {size})")
    if not (np.issubdtype(theta.dtype, np.floating) and np.issubdtype(logits.dtype, np.floating)):
        raise TrainContractError(f"predictions must be floats, got {theta.dtype} and {logits.dtype}")
    if not np.isfinite(theta).all() or np.isnan(logits).any():
        raise TrainContractError("the predictions contain NaN or infinite values")
    bad = degenerate_transforms(theta)
    if bad:
        raise TrainContractError(f"the predicted transform of {len(bad)} image(s) (first: #{bad[0]}) is singular or "
                                 f"ill-conditioned (condition number over {MAX_CONDITION:g})")
    counts: dict[str, list[torch.Tensor]] = {}
    scores = score(torch.from_numpy(theta.astype(np.float32)), torch.from_numpy(logits.astype(np.float32)), labels,
                   batch_size, per_image=counts)
    if not evidence:
        return scores
    # Per-image evidence for a paired comparison with another run on the same images (results.paired).
    # Any: numpy's stub reads a ** mapping as able to fill its allow_pickle flag too.
    arrays: dict[str, Any] = {f"{name}_counts": torch.cat(rows).numpy().astype(np.float32) for name, rows in counts.items()}
    np.savez_compressed(Path(out_dir) / PER_IMAGE_FILE, ids=np.array(labels.ids, dtype=np.str_), **arrays)
    return scores


MAX_CONDITION = 1e6  # a homography this ill-conditioned squashes the image to a line: no alignment at all
_NPY_HEADER = 4096  # an .npy member's header and padding, at most


def predictions_cap(n: int, size: int) -> int:
    """The most bytes a predictions file of n images may take (float64 arrays and headers included)."""
    return n * (9 + size * size) * 8 + 4 * _NPY_HEADER + (1 << 16)


def _checked_members(path: Path, n: int, size: int) -> dict[str, str]:
    """The member names of the two arrays, after checking each header: stored (never compressed,
    so nothing inflates in this process) and no larger than its array can be."""
    expected = {"theta": n * 9 * 8, "mask_logits": n * size * size * 8}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise TrainContractError(f"{path.name} is not a predictions archive: {' '.join(str(exc).split())[:200]}") from None
    names: dict[str, str] = {}
    for info in infos:
        stem = info.filename.removesuffix(".npy")
        if stem not in expected or stem in names:
            raise TrainContractError(f"{path.name} holds an unexpected member {info.filename[:80]!r}")
        if info.compress_type != zipfile.ZIP_STORED:
            raise TrainContractError(f"{path.name}: member {info.filename!r} is compressed; save predictions with "
                                     f"numpy.savez, not savez_compressed")
        if info.file_size > expected[stem] + _NPY_HEADER or info.compress_size > expected[stem] + _NPY_HEADER:
            raise TrainContractError(f"{path.name}: member {info.filename!r} is {info.file_size} bytes, more than "
                                     f"{n} predictions take")
        names[stem] = stem
    missing = sorted(set(expected) - set(names))
    if missing:
        raise TrainContractError(f"{path.name} has no {' or '.join(missing)}")
    return names


def degenerate_transforms(theta: np.ndarray) -> list[int]:
    """Indices of the 3x3 transforms that cannot be inverted reliably (singular or ill-conditioned)."""
    import numpy as np

    # Judged as the scorer will use them, in float32: a transform fine in float64 can overflow there.
    with np.errstate(all="ignore"):
        t32 = np.asarray(theta).astype(np.float32)
        t = t32.astype(np.float64)
        cond = np.linalg.cond(t)
        bad = ~np.isfinite(t32).all(axis=(1, 2)) | ~np.isfinite(cond) | (cond > MAX_CONDITION)
        scale = np.abs(t).max(axis=(1, 2))
        bad |= (scale < 1e-12) | (scale > 1e12)  # a condition number cannot see a uniformly tiny or huge matrix
    return [int(i) for i in np.flatnonzero(bad)]


def check_data_unchanged(before: dict[str, str], after: dict[str, str], root: Path) -> None:
    """NotComparable naming the split a run changed, with how to recover."""
    changed = [split for split in before if before[split] != after.get(split)]
    if changed:
        raise NotComparable(
            f"the {' and '.join(changed)} split of {root} changed during this run; restore the dataset "
            f"(a synthetic one: delete {root} and it is generated again) before the next run")
