"""The source files a piece of code depends on, found by reading its imports, and their digest.

Both the integrity fingerprint (harness) and the render cache key hash "the code that made this
result"; deriving the file list from the import statements means a new module is covered the
day it is imported, instead of the day someone remembers to add it to a list.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import threading
from collections.abc import Iterable
from pathlib import Path

PACKAGE = __name__.rpartition(".")[0]  # this package's import name, for callers that follow it

# CPython 3.11 keeps the counter that guards building an AST in state shared by all threads: two
# threads building one at once (the parallel loop's flights fingerprinting their sources, the main
# thread reading the next search space; ast.literal_eval too) can fail with a spurious
# "SystemError: AST constructor recursion depth mismatch", seen as a lost experiment. Every parse of
# ours holds this lock.
AST_LOCK = threading.RLock()


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package!r} is not an importable package")
    return Path(next(iter(spec.submodule_search_locations)))


class _Locator:
    """Maps dotted names inside the followed packages to their files, without importing them."""

    def __init__(self, packages: Iterable[str]) -> None:
        # Longest prefix first, so a subpackage listed on its own wins over its parent.
        self.dirs = sorted(((p, _package_dir(p)) for p in packages), key=lambda x: -len(x[0]))

    def file(self, name: str) -> Path | None:
        for package, base in self.dirs:
            if name == package:
                return base / "__init__.py"
            if name.startswith(package + "."):
                path = base.joinpath(*name[len(package) + 1 :].split("."))
                if (path / "__init__.py").is_file():
                    return path / "__init__.py"
                if path.with_suffix(".py").is_file():
                    return path.with_suffix(".py")
                return None
        return None


_NAMES: dict[tuple, set[str]] = {}  # each file's imported names, by the file's identity and change times


def _imported_names(path: Path) -> set[str]:
    """Every absolute module name an import statement in `path` may load (function-level ones
    too), with the parent packages that importing it runs first. A file parsed before and
    unchanged since is not parsed again (each run fingerprints the harness's sources)."""
    st = path.stat()
    key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    with AST_LOCK:
        if key not in _NAMES:
            _NAMES[key] = _parse_imports(path)
        return set(_NAMES[key])


def _parse_imports(path: Path) -> set[str]:
    names: set[str] = set()
    with AST_LOCK:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)  # `from pkg import module`
    parts = [name.split(".") for name in names]
    return {".".join(p[:i]) for p in parts for i in range(1, len(p) + 1)}


def module_files(roots: Iterable[str], packages: Iterable[str]) -> list[Path]:
    """The files of the `roots` modules (a package root: all its modules) and of every module of
    `packages` they import, transitively; sorted by folder and name, so a digest depends neither
    on discovery order nor on where the packages are installed."""
    locate = _Locator(packages)
    todo: list[Path] = []
    for root in roots:
        path = locate.file(root)
        if path is None:
            raise ModuleNotFoundError(f"no source file for {root!r}")
        todo.extend(sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path])
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported_names(path):
            found = locate.file(name)
            if found is not None and found not in seen:
                todo.append(found)
    return sorted(seen, key=lambda p: (p.parent.name, p.name))


def source_digest(files: Iterable[Path]) -> str:
    """sha256 over each file's parent folder name, name and bytes (so a rename counts as a change)."""
    h = hashlib.sha256()
    for path in files:
        h.update(f"{path.parent.name}/{path.name}\0".encode())
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()
