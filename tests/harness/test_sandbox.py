"""The sandbox's parts that need no run: the environment allow-list and the bubblewrap argv."""

from __future__ import annotations

from pathlib import Path

import pytest

from gg_research.harness.sandbox import bwrap_argv, child_env


def test_the_environment_is_an_allow_list(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("SOME_NEW_TOKEN", "y")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    env = child_env({"GG_SEED": "3"}, tmp_path)
    assert "ANTHROPIC_API_KEY" not in env and "AWS_SECRET_ACCESS_KEY" not in env and "SOME_NEW_TOKEN" not in env
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["LC_ALL"] == "C.UTF-8" and env["GG_SEED"] == "3"
    assert env["HOME"] == env["TMPDIR"] == str(tmp_path) and "sk-ant" not in " ".join(env.values())


def test_hidden_folders_are_emptied_read_only_after_the_mounts_inside_them(tmp_path: Path) -> None:
    ws, out, view = tmp_path / "ws", tmp_path / "ws" / ".gg" / "runs" / "r", tmp_path / "ws" / ".gg" / "views" / "v"
    for d in (out, view, ws / "results"):
        d.mkdir(parents=True)
    argv = bwrap_argv(["python", "train.py"], workspace=ws, writable=[out], readable=[view],
                      hidden=[ws / ".gg", ws / "results"], gpu=False)
    joined = " ".join(argv)
    assert "--unshare-all" in argv and "--die-with-parent" in argv and "--share-net" not in argv
    assert joined.index(f"--tmpfs {ws / '.gg'}") < joined.index(f"--ro-bind {view}") < joined.index(f"--bind {out}")
    assert joined.index(f"--bind {out}") < joined.index(f"--remount-ro {ws / '.gg'}")
    assert argv[argv.index("--") + 1:] == ["python", "train.py"] and "--dev" in argv
    gpu = bwrap_argv(["x"], workspace=ws, writable=[], readable=[], hidden=[], gpu=True)
    assert gpu[gpu.index("--dev-bind"):gpu.index("--dev-bind") + 3] == ["--dev-bind", "/dev", "/dev"]
