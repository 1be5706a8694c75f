"""What the parent takes from a run's output folder: named regular files only, bounded, never followed;
and predictions archives checked member by member before anything is read into memory."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gg_research.harness.errors import TrainContractError
from gg_research.harness.outputs import OutputProblem, folder_bytes, remove_own, take
from gg_research.harness.scorer import _checked_members, degenerate_transforms, predictions_cap


def test_expected_regular_files_are_copied_and_everything_else_is_left(tmp_path: Path) -> None:
    src, dest = tmp_path / "out", tmp_path / "run"
    src.mkdir()
    dest.mkdir()
    (src / "predictions.npz").write_bytes(b"p" * 100)
    (src / "extra.bin").write_bytes(b"x")
    assert take(src, dest, {"predictions.npz": 1000, "model.pt": 1000}) == ["predictions.npz"]
    assert (dest / "predictions.npz").read_bytes() == b"p" * 100 and not (dest / "extra.bin").exists()


@pytest.mark.parametrize("kind", ["symlink", "folder", "fifo", "hardlink", "oversize"])
def test_anything_but_a_plain_file_within_its_cap_is_refused_and_nothing_is_followed(tmp_path: Path, kind: str) -> None:
    src, dest = tmp_path / "out", tmp_path / "run"
    src.mkdir()
    dest.mkdir()
    victim = tmp_path / "ledger.jsonl"
    victim.write_text("precious\n")
    path = src / "train_report.json"
    if kind == "symlink":
        path.symlink_to(victim)
    elif kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "hardlink":
        os.link(victim, path)
    else:
        path.write_bytes(b"x" * 2000)
    with pytest.raises(OutputProblem):
        take(src, dest, {"train_report.json": 1000})
    assert victim.read_text() == "precious\n" and not (dest / "train_report.json").exists()


def test_a_parent_file_replaces_a_planted_link_without_touching_its_target(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("keep")
    link = tmp_path / "last_run.json"
    link.symlink_to(target)
    remove_own(link)
    assert not link.exists() and target.read_text() == "keep"


def test_folder_bytes_counts_files_in_nested_folders_without_following_links(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_bytes(b"x" * 100_000)
    (tmp_path / "link").symlink_to("/usr")
    assert 100_000 <= folder_bytes(tmp_path) < 200_000


def _npz(path: Path, compressed: bool, **arrays: np.ndarray) -> Path:
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def test_a_compressed_archive_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    # A few kilobytes on disk that would inflate to 400 MB: refused from the zip header alone.
    bomb = _npz(tmp_path / "p.npz", True, theta=np.zeros((4, 3, 3)), mask_logits=np.zeros((4, 1, 5000, 5000)))
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(TrainContractError, match="compressed"):
        _checked_members(bomb, 4, 64)


def test_members_larger_than_the_predictions_or_unexpected_ones_are_refused(tmp_path: Path) -> None:
    big = _npz(tmp_path / "big.npz", False, theta=np.zeros((4, 3, 3)), mask_logits=np.zeros((4, 1, 128, 128)))
    with pytest.raises(TrainContractError, match="more than"):
        _checked_members(big, 4, 64)
    odd = _npz(tmp_path / "odd.npz", False, theta=np.zeros((4, 3, 3)), mask_logits=np.zeros((4, 1, 64, 64)),
               extra=np.zeros(3))
    with pytest.raises(TrainContractError, match="unexpected member"):
        _checked_members(odd, 4, 64)
    fine = _npz(tmp_path / "fine.npz", False, theta=np.zeros((4, 3, 3)), mask_logits=np.zeros((4, 1, 64, 64)))
    assert set(_checked_members(fine, 4, 64)) == {"theta", "mask_logits"} and fine.stat().st_size <= predictions_cap(4, 64)
    with zipfile.ZipFile(tmp_path / "junk.npz", "w") as zf:
        zf.writestr("theta.npy", b"not numpy")
    with pytest.raises(TrainContractError):
        _checked_members(tmp_path / "junk.npz", 4, 64)


def test_singular_or_ill_conditioned_transforms_are_found() -> None:
    good = np.eye(3)
    shifted = np.array([[1.02, 0.01, 0.1], [0.0, 0.98, -0.05], [0.0, 0.0, 1.0]])
    singular = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    squashed = np.diag([1.0, 1e-9, 1.0])
    assert degenerate_transforms(np.stack([good, shifted, singular, squashed])) == [2, 3]
