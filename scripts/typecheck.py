"""Run mypy, as configured in pyproject.toml, on the packages under their import names.

The repository's top-level folders install as ``gg_research.<name>`` (``[tool.setuptools.package-dir]``).
An editable install maps them with an import hook, which mypy does not run, so mypy would see
``loop/engine.py`` as a module ``loop.engine`` that imports a ``gg_research.loop`` it cannot find.
This script links the installed layout into ``build/typecheck/gg_research`` (the ``mypy_path`` of the
config), runs mypy there, and prints the repository's own paths in what mypy reports.

    python scripts/typecheck.py              # the packages of [tool.mypy] packages
    python scripts/typecheck.py loop/git.py  # a file or folder of the repository; other arguments go to mypy
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"
PACKAGE = "gg_research"


def folders() -> dict[str, Path]:
    """The installed layout: a package folder under TREE for each folder of the repository."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        package_dir: dict[str, str] = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name.removeprefix(PACKAGE + ".").replace(".", "/"): ROOT / folder for name, folder in package_dir.items()}


def link_tree() -> dict[Path, Path]:
    """(Re)build TREE: the gg_research folder's entries and each mapped folder, as links.

    Returns where each linked folder lies in TREE against where it lies in the repository."""
    shutil.rmtree(TREE, ignore_errors=True)
    package = TREE / PACKAGE
    package.mkdir(parents=True)
    for entry in (ROOT / PACKAGE).iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    places = {package: ROOT / PACKAGE}
    for sub, folder in folders().items():
        (package / sub).symlink_to(folder, target_is_directory=True)
        places[package / sub] = folder
    return places


def to_tree(arg: str, places: dict[Path, Path]) -> str:
    """A repository path given on the command line, as mypy must see it (inside TREE)."""
    path = Path(arg).resolve()
    if not path.exists():
        return arg
    for linked, real in sorted(places.items(), key=lambda p: len(p[1].parts), reverse=True):
        if path.is_relative_to(real):
            return str(linked / path.relative_to(real))
    return arg


def to_repo(line: str, places: dict[Path, Path]) -> str:
    """A line of mypy's output with the path it starts with (inside TREE) as the repository's own."""
    # Longest first, so gg_research/loop/ is not read as a path under gg_research/.
    for linked, real in sorted(places.items(), key=lambda p: len(p[0].parts), reverse=True):
        prefix = os.path.relpath(linked, ROOT) + "/"
        if line.startswith(prefix):
            return os.path.relpath(real, ROOT) + "/" + line[len(prefix):]
    return line


def main(argv: list[str]) -> int:
    places = link_tree()
    cmd = [sys.executable, "-m", "mypy", *(to_tree(a, places) for a in argv)]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    for line in proc.stdout.splitlines():
        print(to_repo(line, places))
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
