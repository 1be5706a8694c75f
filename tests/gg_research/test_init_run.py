"""`gg-research init` and `gg-research run`, on real git repos and real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gg_research.config import CONFIG_NAME, load_config
from gg_research.workspace import init_workspace
from gg_research.harness.errors import WorkspaceError


# The console script's own entry point, as a user's shell runs it.
CLI = [sys.executable, "-c", "from gg_research.cli import entry; entry()"]


def _git(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True).stdout


def _bare_git_env(tmp_path: Path) -> dict[str, str]:
    # No global identity, as on a fresh machine.
    env = dict(os.environ, HOME=str(tmp_path / "home"), GIT_CONFIG_NOSYSTEM="1")
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        env.pop(key, None)
    (tmp_path / "home").mkdir()
    return env


def test_init_creates_repo_with_one_commit_and_a_loadable_config(tmp_path: Path, monkeypatch) -> None:
    for k, v in _bare_git_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    ws = init_workspace(tmp_path / "study")
    assert _git(ws, "rev-list", "--count", "HEAD").strip() == "1"
    tracked = set(_git(ws, "ls-files").split())
    assert tracked == {"train.py", "program.md", CONFIG_NAME, ".gitignore"}
    assert _git(ws, "status", "--porcelain") == ""
    cfg = load_config(ws / CONFIG_NAME)
    assert [o.name for o in cfg.objectives] == ["pbqc", "dice"]
    assert (ws / "train.py").read_text() == (Path(__file__).parents[2] / "ggnet/templates/train.py").read_text()
    assert "PBQC" in (ws / "program.md").read_text()
    ignored = (ws / ".gitignore").read_text().split()
    assert {".gg/", "results/"} <= set(ignored)
    compile((ws / "train.py").read_text(), "train.py", "exec")


def test_init_refuses_a_non_empty_folder_and_keeps_its_files(tmp_path: Path) -> None:
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("precious")
    with pytest.raises(WorkspaceError, match="not empty"):
        init_workspace(d)
    assert (d / "notes.txt").read_text() == "precious"
    assert not (d / ".git").exists()


def test_init_on_an_existing_workspace_changes_nothing(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    (ws / "train.py").write_text("# my edits\n")
    assert init_workspace(ws) == ws
    assert (ws / "train.py").read_text() == "# my edits\n"


def test_init_refuses_a_file_path(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(WorkspaceError, match="not a folder"):
        init_workspace(f)


def test_cli_init_refusal_is_one_line_exit_2(tmp_path: Path) -> None:
    d = tmp_path / "busy"
    d.mkdir()
    (d / "a").write_text("a")
    proc = subprocess.run([*CLI, "init", str(d)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not empty" in proc.stderr and str(d) in proc.stderr


def test_cli_run_outside_a_workspace_is_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "run", "--budget", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not inside a gg-research workspace" in proc.stderr


def test_cli_run_rejects_a_non_positive_budget(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    proc = subprocess.run([*CLI, "run", "--budget", "0"], cwd=ws,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--budget" in proc.stderr
    assert not (ws / "results").exists()


def _tiny_workspace(tmp_path: Path) -> Path:
    """A real `init` workspace, shrunk: tiny template constants and a 24-image synthetic set
    that the run itself generates in the user's data folder (the default data path)."""
    from tests.harness.standin import TINY, template_source

    ws = init_workspace(tmp_path / "study")
    (ws / "train.py").write_text(template_source(TINY, (ws / "train.py").read_text()))
    toml = (ws / CONFIG_NAME).read_text()
    for key, value in {"image_size": "64", "synth_n": "24", "synth_size": "64", "device": '"cpu"', "eval_batch_size": "16"}.items():
        toml, n = __import__("re").subn(rf"^{key} = .*$", f"{key} = {value}", toml, count=1, flags=__import__("re").M)
        assert n == 1, key
    (ws / CONFIG_NAME).write_text(toml)
    return ws


@pytest.mark.slow
def test_cli_run_end_to_end_prints_both_metrics(tmp_path: Path) -> None:
    ws = _tiny_workspace(tmp_path)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([*CLI, "run", "--budget", "2", "--seed", "3"], cwd=ws, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    lines = proc.stdout.rstrip().splitlines()
    block = lines[lines.index("---") + 1 :]
    assert block[0].startswith("pbqc: ") and block[1].startswith("dice: ")
    assert "seed: 3" in block and "device: cpu" in block
    summary = json.loads((ws / "results/runs/r0001/last_run.json").read_text())
    assert float(block[0].split(": ")[1]) == pytest.approx(summary["pbqc"])
    from gg_research.harness.data import data_cache

    # The synthetic set (its labels) was generated outside the workspace, where the harness finds it.
    assert list(data_cache(ws).glob("*/manifest.jsonl")) and not (ws / ".gg/data").exists()
    status = _git(ws, "status", "--porcelain", "--untracked-files=all")
    assert "results/" not in status and ".gg/" not in status  # ignored, never committed by accident


@pytest.mark.slow
def test_cli_run_of_a_crashing_train_py_exits_1_with_the_reason(tmp_path: Path) -> None:
    ws = _tiny_workspace(tmp_path)
    (ws / "train.py").write_text("def train(ctx):\n    raise ValueError('LR must be positive')\n")
    proc = subprocess.run([*CLI, "run", "--budget", "1", "--quiet"], cwd=ws, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("gg-research run: crash: ValueError: LR must be positive")
    assert "pbqc:" not in proc.stdout
    assert (ws / "results/runs/r0001/run.log").is_file() and not (ws / "results/runs/r0001/last_run.json").exists()
