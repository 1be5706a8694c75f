"""Where a workspace's synthetic data (its labels) lives: outside the workspace, under its id."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gg_research.config import Config
from gg_research.harness.data import data_cache, data_home, dataset_root, workspace_id


def _config() -> Config:
    return Config.model_validate({"data": {"synth_n": 8, "synth_size": 32, "image_size": 32}})


def test_the_synthetic_set_is_made_outside_the_workspace_under_its_id(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    root = dataset_root(ws, _config())
    assert (root / "manifest.jsonl").is_file()
    assert data_home() in root.parents and ws not in root.parents
    assert root.parent == data_cache(ws) and workspace_id(ws) in str(root)
    assert not (ws / ".gg" / "data").exists() and (ws / ".gg" / "id").is_file()
    assert dataset_root(ws, _config()) == root  # found again, not made again
    other = tmp_path / "other"
    other.mkdir()
    assert workspace_id(other) != workspace_id(ws) and data_cache(other) != data_cache(ws)


def test_a_cache_an_older_version_left_in_the_workspace_is_moved_out(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ws = tmp_path / "ws"
    legacy = ws / ".gg" / "data"
    (legacy / "synth-old").mkdir(parents=True)
    (legacy / "synth-old" / "manifest.jsonl").write_text("{}\n")
    (legacy / ".secret").write_bytes(b"k" * 32)
    cache = data_cache(ws)
    assert (cache / "synth-old" / "manifest.jsonl").read_text() == "{}\n" and (cache / ".secret").read_bytes() == b"k" * 32
    assert not legacy.exists() and "moved the synthetic data" in capsys.readouterr().err


def test_a_worktree_of_the_workspace_shares_its_data(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "a.txt").write_text("a")
    subprocess.run(["git", "-C", str(ws), "add", "."], check=True)
    subprocess.run(["git", "-C", str(ws), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a"], check=True)
    wt = tmp_path / "wt"
    subprocess.run(["git", "-C", str(ws), "worktree", "add", "-q", "--detach", str(wt)], check=True)
    assert data_cache(wt) == data_cache(ws) and not (wt / ".gg" / "id").exists()


def test_an_odd_id_is_a_one_line_error_never_a_path(tmp_path: Path) -> None:
    from gg_research.errors import GGError

    ws = tmp_path / "ws"
    (ws / ".gg").mkdir(parents=True)
    (ws / ".gg" / "id").write_text("../../../etc\n")
    with pytest.raises(GGError, match="not a workspace id"):
        dataset_root(ws, _config())
    assert not list(data_home().glob("**/etc"))
