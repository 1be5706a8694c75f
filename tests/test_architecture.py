"""The house as a user installs it: one import name, one-way dependencies, every package listed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import PACKAGE_DIRS as MAPPED
from tests.conftest import REPO_ROOT as REPO
from tests.conftest import installed_layout

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {"gg_research": REPO / "gg_research", **{name: REPO / folder for name, folder in MAPPED.items()}}
    found = set()
    for name, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder)
            found.add(".".join([name, *rel.parts]))
    assert found == listed


def test_only_gg_research_is_added_to_sys_path_imports(tmp_path: Path) -> None:
    """Import every module from a neutral folder: none of them reaches a bare `loop`, `results`, ..."""
    code = (
        "import importlib, pkgutil, sys, gg_research\n"
        "skip = {'gg_research.__main__'}\n"
        "names = [m.name for m in pkgutil.walk_packages(gg_research.__path__, 'gg_research.')]\n"
        "for pkg in ('ggnet', 'harness', 'knowledge', 'retrieval', 'loop', 'results'):\n"
        "    mod = importlib.import_module('gg_research.' + pkg)\n"
        "    names += [m.name for m in pkgutil.walk_packages(mod.__path__, mod.__name__ + '.')]\n"
        "for name in sorted(set(names) - skip):\n"
        "    importlib.import_module(name)\n"
        "bare = sorted(n for n in ('ggnet', 'harness', 'knowledge', 'retrieval', 'loop', 'results') if n in sys.modules)\n"
        "print(len(names), bare)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    count, bare = proc.stdout.split(maxsplit=1)
    assert int(count) > 80 and bare.strip() == "[]"


@pytest.mark.slow
def test_import_contracts_hold(tmp_path: Path) -> None:
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.fail("import-linter is a test dependency: pip install -e '.[test]'")
    layout = installed_layout(tmp_path / "site")
    proc = subprocess.run([lint, "--config", str(REPO / "pyproject.toml"), "--no-cache"], cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(layout)}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "4 kept, 0 broken" in proc.stdout
