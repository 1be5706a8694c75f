"""The sandbox's parts that need no run: the environment allow-list and the bubblewrap argv."""

from __future__ import annotations

from pathlib import Path

import pytest

from gg_research.harness.sandbox import Box, bwrap_argv, child_env, code_view, environment_paths


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


def test_the_box_is_an_allow_list_with_private_scratch_and_the_runs_paths_on_top(tmp_path: Path) -> None:
    ws, out, view = tmp_path / "ws", tmp_path / "ws" / ".gg" / "runs" / "r", tmp_path / "ws" / ".gg" / "views" / "v"
    for d in (out, view):
        d.mkdir(parents=True)
    (ws / "train.py").write_text("x = 1\n")
    box = Box(workdir=ws, code=(ws / "train.py",), readable=(view,), writable=(out,))
    argv = bwrap_argv(["python", "train.py"], box)
    joined = " ".join(argv)
    assert "--unshare-all" in argv and "--die-with-parent" in argv and "--share-net" not in argv
    assert "--ro-bind / /" not in joined and "--bind / /" not in joined  # nothing of the host by default
    assert Path.home().resolve() != Path("/") and f"--ro-bind {Path.home()} " not in joined
    # Private tmpfs first, then the run's own paths over them (a workspace under /tmp stays reachable),
    # and the root read-only last.
    assert joined.index("--tmpfs /tmp") < joined.index(f"--ro-bind {ws / 'train.py'}") < joined.index(f"--bind {out}")
    assert joined.index(f"--ro-bind {view}") < joined.index(f"--bind {out}") < joined.index("--remount-ro /")
    assert argv[argv.index("--tmpfs") - 2] == "--size" and "--tmpfs /dev/shm" in joined and "--tmpfs /run" in joined
    assert argv[argv.index("--") + 1:] == ["python", "train.py"] and "--dev" in argv and "--dev-bind" not in argv


def test_a_cuda_box_gets_the_gpu_nodes_and_nothing_else_of_dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.harness import sandbox

    monkeypatch.setattr(sandbox, "gpu_nodes", lambda: [Path("/dev/nvidia0"), Path("/dev/nvidiactl")])
    argv = bwrap_argv(["x"], Box(workdir=tmp_path, gpu=True))
    binds = [argv[i + 1] for i, a in enumerate(argv) if a == "--dev-bind"]
    assert binds == ["/dev/nvidia0", "/dev/nvidiactl"]


def test_the_environment_brings_its_prefixes_and_not_any_folder_on_the_import_path(tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    other_ws, lib = tmp_path / "other-ws", Path(sys.prefix).resolve()
    other_ws.mkdir()
    # A PYTHONPATH of the home folder or of another workspace: never brought into the box.
    monkeypatch.setattr(sys, "path", [str(Path.home()), str(other_ws), *sys.path])
    found = environment_paths()
    assert any(p == lib or p in lib.parents or lib in p.parents for p in found)
    assert other_ws.resolve() not in found and Path.home().resolve() not in found
    assert not any(p == Path("/") for p in found)


def test_a_code_view_folder_is_bound_at_the_workspace_and_caps_are_dropped(tmp_path: Path) -> None:
    from gg_research.harness.sandbox import mount_points, stage_code

    ws, code, out = tmp_path / "ws", tmp_path / "code", tmp_path / "ws" / ".gg" / "runs" / "r"
    out.mkdir(parents=True)
    code.mkdir()
    (ws / "train.py").write_text("x = 1\n")
    mount_points(code, ws, [out])
    assert (code / ".gg" / "runs" / "r").is_dir() and not (code / "train.py").exists()
    stage_code(code, ws, [ws / "train.py"])
    assert (code / "train.py").read_text() == "x = 1\n"
    argv = bwrap_argv(["python"], Box(workdir=ws, code_dir=code, writable=(out,)))
    joined = " ".join(argv)
    assert f"--ro-bind {code} {ws}" in joined and joined.index(f"--ro-bind {code}") < joined.index(f"--bind {out}")
    assert "--cap-drop ALL" in joined and "--ro-bind /proc/sys /proc/sys" in joined and "--remount-ro /dev" in joined


def test_the_code_view_is_the_source_and_never_a_cache_a_link_or_data(tmp_path: Path) -> None:
    import subprocess

    ws = tmp_path / "ws"
    (ws / "__pycache__").mkdir(parents=True)
    (ws / "data" / "masks").mkdir(parents=True)
    for name, text in {"train.py": "x = 1\n", "helper.py": "y = 2\n", "notes.txt": "n\n", "data/masks/a.png": "png",
                       "__pycache__/train.cpython-311.pyc": "pyc", "labels.npz": "z"}.items():
        (ws / name).write_text(text)
    (ws / "outside.py").symlink_to(tmp_path / "elsewhere.py")
    (tmp_path / "elsewhere.py").write_text("secret = 1\n")
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    subprocess.run(["git", "-C", str(ws), "add", "train.py", "notes.txt", "data/masks/a.png"], check=True)
    view = {p.relative_to(ws).as_posix() for p in code_view(ws, [ws / "data"], ["train.py"])}
    # Tracked files and untracked source; not the dataset (even tracked), the cache, data files or links.
    assert view == {"train.py", "notes.txt", "helper.py"}


def test_hidden_paths_a_readable_folder_holds_are_veiled_and_the_runs_own_folders_mounted_over_them(
        tmp_path: Path) -> None:
    """A readable folder that holds a workspace: its state, ledger and git are covered by an empty
    read-only folder, the run's own view and output folder (inside the state) are mounted on top;
    a readable folder inside a hidden one is not shown at all."""
    projects = tmp_path / "projects"
    ws = projects / "ws"
    view, out, cache = ws / ".gg" / "views" / "v", ws / ".gg" / "runs" / "r", ws / ".gg" / "cache"
    for d in (view, out, cache, ws / "results", ws / ".git"):
        d.mkdir(parents=True)
    hidden = (ws / ".gg", ws / "results", ws / ".git", tmp_path / "elsewhere")
    box = Box(workdir=ws, readable=(projects, cache), inputs=(view,), writable=(out,), hidden=hidden)
    argv = bwrap_argv(["python"], box)
    joined = " ".join(argv)
    for h in hidden[:3]:
        assert f"--tmpfs {h}" in joined and f"--remount-ro {h}" in joined
        assert joined.index(f"--ro-bind {projects}") < joined.index(f"--tmpfs {h}") < joined.index(f"--ro-bind {view}")
        assert joined.index(f"--bind {out}") < joined.index(f"--remount-ro {h}") < joined.index("--remount-ro / ")
    assert str(tmp_path / "elsewhere") not in joined  # not in the box at all: nothing to cover
    assert f"--ro-bind {cache} " not in joined


def test_nothing_is_veiled_when_no_readable_folder_holds_a_hidden_path(tmp_path: Path) -> None:
    from gg_research.harness.sandbox import veils

    ws = tmp_path / "ws"
    (ws / ".gg" / "views").mkdir(parents=True)
    (ws / "results").mkdir()
    assert veils([ws / ".gg", ws / "results"], [tmp_path / "data"]) == []
    assert veils([ws / ".gg", ws / ".gg" / "views", ws / "results"], [ws]) == [ws / ".gg", ws / "results"]
