"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import tomllib
from pathlib import Path

import pytest

# A shell that starts pytest in the background (`cmd &` without job control) makes it ignore SIGINT,
# and every process the tests start inherits that: the Ctrl-C tests would then wait for an
# interrupt that never arrives. Restoring the handler here gives the children the default again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Workspaces keep their synthetic data (its labels) in the user's data folder: the tests', and the
# commands they start, use a folder of their own, never the developer's.
os.environ["GG_DATA_HOME"] = tempfile.mkdtemp(prefix="gg-test-data-home-")

REPO_ROOT = Path(__file__).resolve().parents[1]
# gg_research.loop -> loop, ...: the repository's folders as the wheel installs them.
PACKAGE_DIRS: dict[str, str] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
    "tool"]["setuptools"]["package-dir"]


def installed_layout(dest: Path) -> Path:
    """A copy of the source laid out as the wheel installs it (gg_research/ with loop/, ggnet/, ...
    inside); put `dest` first on PYTHONPATH to import the copy instead of the checkout."""
    root = dest / "gg_research"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO_ROOT / "gg_research", root, ignore=ignore)
    for name, folder in PACKAGE_DIRS.items():
        shutil.copytree(REPO_ROOT / folder, root / name.split(".", 1)[1], ignore=ignore)
    return dest


@pytest.fixture(scope="session")
def gcode_fixtures_dir() -> Path:
    """The real slicer outputs in shared/fixtures/gcode, beside the checkout (CI clones it there)."""
    path = (REPO_ROOT / "../shared/fixtures/gcode").resolve()
    if not path.is_dir():
        pytest.skip(f"real G-code fixtures not found at {path} (shared/ must lie beside the checkout)")
    return path
