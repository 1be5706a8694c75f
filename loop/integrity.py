"""The loop's integrity checks: frozen inputs unchanged, commits touching only mutable files, and the
code that judges (gg-research itself) the installed one, unchanged since the baseline."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.ggnet.sources import module_files
from gg_research.harness.errors import NotComparable
from gg_research.harness.integrity import check_comparable
from gg_research.harness.integrity import frozen_fingerprint as harness_fingerprint
from gg_research.loop.git import Git
from gg_research.workspace_map import GIT_DIR, RESULTS_DIR, STATE_DIR

PACKAGE = __name__.split(".")[0]
DISTRIBUTION = "gg-research"
JUDGE_CODE, JUDGE_FILES = "judge_code", "judge_files"
# The modules that decide a result besides the harness: the config, the keep rule and the verdict, the
# engine and the agent's step, the ledger and the Pareto vocabulary; and every module of ours they import.
_JUDGE_ROOTS = (f"{PACKAGE}.config", f"{PACKAGE}.errors", f"{PACKAGE}.loop.trial", f"{PACKAGE}.loop.keep",
                f"{PACKAGE}.loop.engine", f"{PACKAGE}.loop.agent", f"{PACKAGE}.loop.integrity",
                f"{PACKAGE}.results.ledger", f"{PACKAGE}.results.pareto", f"{PACKAGE}.harness", f"{PACKAGE}.ggnet.metrics")
_FOLLOWED = (PACKAGE, f"{PACKAGE}.loop", f"{PACKAGE}.results", f"{PACKAGE}.harness", f"{PACKAGE}.ggnet")
# Folders of a workspace that are not its sources: state, output, history, environments.
_NOT_SOURCES = {GIT_DIR, STATE_DIR, RESULTS_DIR, "node_modules"}


# (path, mtime, size) of every file of the packages -> the judging modules among them
_closure: dict[tuple[tuple[str, int, int], ...], list[Path]] = {}


def _judge_files() -> list[Path]:
    """The judging modules, found by reading imports; re-read only when a file of the packages changed
    (a step fingerprints twice, and parsing them all takes most of a second)."""
    dirs = {Path(d) for p in _FOLLOWED for d in (getattr(importlib.util.find_spec(p), "submodule_search_locations", None) or [])}
    stats = tuple(sorted((str(f), f.stat().st_mtime_ns, f.stat().st_size) for d in dirs for f in d.rglob("*.py")))
    if stats not in _closure:
        _closure.clear()
        _closure[stats] = module_files(_JUDGE_ROOTS, _FOLLOWED)
    return _closure[stats]


def judge_fingerprint() -> dict[str, str]:
    """A digest of every module of the installed package that decides a result, and each file's own hash
    (a compact "folder/file:hash ..." line, so a changed one is named)."""
    files = _judge_files()
    each = [f"{p.parent.name}/{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()[:12]}" for p in files]
    return {JUDGE_CODE: hashlib.sha256(" ".join(each).encode()).hexdigest(), JUDGE_FILES: " ".join(each)}


def frozen_fingerprint(workspace: Path, config: Config) -> dict[str, str]:
    """The harness's fingerprint of the frozen inputs (not for a `[run] command`) and the judging code's.

    A `[run] command` evaluates itself, so the harness's dataset and metric code are not its
    frozen inputs; its own files are guarded by the commit and work-tree checks instead. The code
    that judges its figures (keep rule, ledger, config) is gg-research's either way.
    """
    harness = {} if config.run.command else dict(harness_fingerprint(workspace, config))
    return {**harness, **judge_fingerprint()}


def _changed_files(a: str, b: str) -> list[str]:
    old = dict(item.rsplit(":", 1) for item in a.split() if ":" in item)
    new = dict(item.rsplit(":", 1) for item in b.split() if ":" in item)
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))


def fingerprint_problem(expected: dict[str, Any] | None, got: dict[str, Any] | None) -> str | None:
    """Why two fingerprints are not comparable, or None (also None when either is unknown).

    Only what both hold is compared: the harness's own fingerprint of a run has no judging code,
    and a baseline recorded before the judging code was fingerprinted has none either.
    """
    if not expected or not got:
        return None
    common = set(expected) & set(got)
    if JUDGE_FILES in common and expected[JUDGE_FILES] != got[JUDGE_FILES]:
        changed = _changed_files(str(expected[JUDGE_FILES]), str(got[JUDGE_FILES])) or ["?"]
        return (f"gg-research's own code changed since the baseline ({', '.join(changed[:6])}"
                f"{' ...' if len(changed) > 6 else ''}): results judged by other code are not comparable; "
                "start a new tag after an upgrade")
    try:
        check_comparable({k: expected[k] for k in common - {JUDGE_FILES}}, {k: got[k] for k in common - {JUDGE_FILES}})
    except NotComparable as exc:  # its message names what differs
        return f"frozen inputs changed: {exc}"
    return None


def commit_problem(git: Git, parent: str, commit: str, mutable: list[str]) -> str | None:
    outside = [p for p in git.changed_files(parent, commit) if p not in mutable]
    return f"commit touches frozen files: {', '.join(outside)}" if outside else None


def worktree_problem(git: Git) -> str | None:
    """Tracked files a run changed after the commit (a train.py that writes frozen files)."""
    changed = git.modified_tracked()
    return f"the run modified tracked files: {', '.join(changed)}" if changed else None


def bytecode_problem(workspace: Path) -> str | None:
    """Python bytecode among the workspace's sources, named: a kept result must come from the diff it shows.

    The box compiles train.py and the workspace's modules from source, so bytecode is never run there;
    a step still refuses it, so that nothing beside the sources can stand in for them anywhere.
    """
    found: list[str] = []
    for top, dirs, names in os.walk(workspace):
        here = Path(top)
        dirs[:] = [d for d in dirs if d not in _NOT_SOURCES and not (here / d / "pyvenv.cfg").is_file()]
        found += [str((here / n).relative_to(workspace)) for n in names if n.endswith((".pyc", ".pyo"))]
        if len(found) > 8:
            break
    if not found:
        return None
    shown = ", ".join(sorted(found)[:8]) + (" ..." if len(found) > 8 else "")
    return (f"Python bytecode in the workspace ({shown}): gg-research runs the sources only and will not judge "
            "beside a compiled copy; delete it (find . -name __pycache__ -prune -exec rm -r {} +) and call again")


def _installed_root() -> Path | None:
    """Where the installed distribution puts the package's code: its folder, or an editable install's source tree.

    Only a distribution installed in an environment's site-packages counts: metadata found beside a
    copy (an egg-info in the current folder, a dist-info next to a PYTHONPATH entry) does not say where
    the installed package is.
    """
    for dist in importlib.metadata.distributions(name=DISTRIBUTION):
        if "site-packages" not in Path(str(dist.locate_file(""))).resolve().parts:
            continue
        try:
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
        except json.JSONDecodeError:
            direct = {}
        url = str(direct.get("url", ""))
        if direct.get("dir_info", {}).get("editable") and url.startswith("file://"):
            return Path(url.removeprefix("file://")).resolve()
        for f in dist.files or []:
            if f.as_posix() == f"{PACKAGE}/__init__.py":
                return Path(str(dist.locate_file(f))).resolve().parent
    return None


def package_problem(workspace: Path) -> str | None:
    """Why the gg-research code running now is not the installed one (a copy earlier on PYTHONPATH or in the
    workspace would judge with rules of its own), or None."""
    loaded = {name: Path(getattr(mod, "__file__", "") or "").resolve() for name, mod in list(sys.modules.items())
              if (name == PACKAGE or name.startswith(PACKAGE + ".")) and getattr(mod, "__file__", None)}
    ws = Path(workspace).resolve()
    root = _installed_root()
    for name, path in sorted(loaded.items()):
        # An environment inside the workspace (a venv's site-packages) is an installation, not a copy.
        inside_ws = path.is_relative_to(ws) and "site-packages" not in path.parts
        foreign = root is not None and not path.is_relative_to(root)
        if inside_ws or foreign:
            where = next((e for e in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                          if e and path.is_relative_to(Path(e).resolve())), None)
            how = f"from PYTHONPATH entry {where}" if where else ("inside the workspace" if inside_ws else "elsewhere")
            return (f"{name} is loaded from {path} ({how}), not from the installed {DISTRIBUTION}"
                    f"{f' at {root}' if root else ''}; remove that copy (or unset PYTHONPATH) and call again")
    return None
