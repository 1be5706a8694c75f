"""scripts/typecheck.py: mypy sees the folders under their installed names and reports repository paths."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import PACKAGE_DIRS, REPO_ROOT


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("typecheck_script", REPO_ROOT / "scripts" / "typecheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_link_tree_is_the_installed_layout() -> None:
    tc = _script()
    places = tc.link_tree()
    package = tc.TREE / "gg_research"
    for name, folder in PACKAGE_DIRS.items():
        linked = package / name.split(".", 1)[1]
        assert linked.resolve() == (REPO_ROOT / folder).resolve()
        assert places[linked] == REPO_ROOT / folder
    own = {p.name for p in (REPO_ROOT / "gg_research").iterdir() if p.name != "__pycache__"}
    assert own <= {p.name for p in package.iterdir()}


def test_paths_go_in_as_the_tree_and_come_out_as_the_repository() -> None:
    tc = _script()
    places = tc.link_tree()
    inside = tc.to_tree(str(REPO_ROOT / "loop" / "git.py"), places)
    assert Path(inside) == tc.TREE / "gg_research" / "loop" / "git.py"
    assert tc.to_tree("--strict", places) == "--strict"  # an option goes through as it is
    line = "build/typecheck/gg_research/loop/git.py:12: error: something  [misc]"
    assert tc.to_repo(line, places) == "loop/git.py:12: error: something  [misc]"
    assert tc.to_repo("build/typecheck/gg_research/config.py:3: note: x", places) == "gg_research/config.py:3: note: x"
    assert tc.to_repo("Found 2 errors in 1 file", places) == "Found 2 errors in 1 file"


@pytest.mark.slow
def test_a_module_is_checked_under_its_import_name() -> None:
    pytest.importorskip("mypy")
    proc = subprocess.run([sys.executable, "scripts/typecheck.py", "harness/summary.py"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout
    assert "Success: no issues found in 1 source file" in proc.stdout
