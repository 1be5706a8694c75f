"""The map of the workspace: what gg-research writes lies where the map says, and no module but the
map spells the workspace's layout (the folders, a run folder's files, the git names)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from gg_research import workspace_map as wm
from tests.conftest import PACKAGE_DIRS, REPO_ROOT


def _git(path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True).stdout


def test_a_new_workspace_ignores_the_maps_folders_and_its_lock_and_notes_lie_where_the_map_says(tmp_path: Path) -> None:
    from gg_research.loop.lock import LoopLock
    from gg_research.loop.steering import add_note
    from gg_research.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    layout = wm.WorkspaceMap(ws)
    assert layout.config.is_file()
    assert set(wm.IGNORED) <= set((ws / ".gitignore").read_text().split())
    with LoopLock(ws):
        assert layout.lock.is_file()
    add_note(ws, "try a wider decoder")
    assert "wider decoder" in layout.notes.read_text()
    # git ignores both folders: nothing under them is ever part of a commit.
    for folder in (layout.state, layout.results):
        (folder / "x").parent.mkdir(parents=True, exist_ok=True)
        (folder / "x").write_text("x")
    assert _git(ws, "status", "--porcelain", "--untracked-files=all") == ""


def test_the_ledger_and_the_run_folder_are_where_the_writers_put_them(tmp_path: Path) -> None:
    from gg_research.results.ledger import LedgerFile, ledger_path

    layout = wm.WorkspaceMap(tmp_path)
    assert ledger_path(tmp_path) == layout.ledger
    ledger = LedgerFile(tmp_path, ["pbqc", "dice"])
    assert (ledger.jsonl, ledger.tsv) == (layout.ledger, layout.tsv)
    run = layout.run("e0007")
    assert run.path == tmp_path / "results" / "runs" / "e0007"
    assert [p.name for p in (run.log, run.summary, run.curves, run.per_image, run.test_scores, run.weights)] == [
        "run.log", "last_run.json", "curves.json", "per_image.npz", "test_scores.json", "model.pt"]


def test_git_names_round_trip() -> None:
    assert wm.branch("night-1") == "autoresearch/night-1" and wm.tag_of_branch(wm.branch("night-1")) == "night-1"
    assert wm.tag_of_branch("main") is None and wm.tag_of_branch(wm.ADOPTED_BRANCH) is None
    assert wm.keep_tag("night-1", "e0003") == "gg/night-1/e0003"
    assert wm.rescue_tag("night-1", "0123456789abcdef") == "gg/night-1/rescued-0123456"
    # A tag with a slash still names one file in .gg.
    assert wm.WorkspaceMap(Path("/w")).optuna_study("a/b").parent == Path("/w/.gg")


def test_a_worktree_hides_its_own_state_and_its_origins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(wm.DATA_HOME_ENV, str(tmp_path / "data-home"))
    (tmp_path / "data-home").mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    _git(ws, "init", "-q")
    _git(ws, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x")
    wt = tmp_path / "ws.worktrees" / "k" / "slot0000"
    _git(ws, "worktree", "add", "-q", "--detach", str(wt))
    assert wm.origin_workspace(wt) == ws.resolve() and wm.origin_workspace(ws) is None
    assert wm.WorkspaceMap(ws).worktrees() == tmp_path / "ws.worktrees"
    dataset = tmp_path / "labels"
    dataset.mkdir()
    hidden = set(wm.box_hidden(wt, dataset))
    for home in (ws.resolve(), wt.resolve()):
        assert {home / ".gg", home / "results", home / ".git"} <= hidden
    assert {(tmp_path / "data-home").resolve(), dataset.resolve()} <= hidden
    assert dataset.resolve() not in set(wm.box_hidden(wt))  # a [run] command reads its own data


# The layout spelled out: the workspace's folders joined as paths, a run folder's files, the git names.
_LAYOUT = re.compile(r"""["']\.gg["'/]|/ ["']results["']|["'](run\.log|last_run\.json|curves\.json|per_image\.npz|"""
                     r"""test_scores\.json|model\.pt|patch\.diff|experiments\.jsonl|worker\.json)["']|"""
                     r"""autoresearch/\{|["']gg/\{""")
# Files that name another program's files (autoresearch's own run.log).
_OTHERS = {"gg_research/adopt/infer.py"}


def test_no_module_but_the_map_spells_the_workspace_layout() -> None:
    folders = [REPO_ROOT / "gg_research", *(REPO_ROOT / f for f in PACKAGE_DIRS.values())]
    found = {}
    for folder in folders:
        for path in folder.rglob("*.py"):
            rel = path.relative_to(REPO_ROOT).as_posix()
            if rel == "gg_research/workspace_map.py" or rel in _OTHERS:
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            hits = [n for n, line in enumerate(lines, 1) if _LAYOUT.search(line)]
            if hits:
                found[rel] = hits
    assert found == {}, f"spelled outside gg_research/workspace_map.py: {found}"
