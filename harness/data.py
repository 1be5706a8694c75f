"""Where a workspace's data lives: the configured dataset folder or the cached synthetic set.

The synthetic set holds the validation and test labels (and the split of each sample), so its
cache lives outside the workspace, in the user's data folder (`data_home`), under an id the
workspace keeps (`.gg/id`): an agent working in the workspace does not come across the labels,
and the harness knows where they are. A parallel loop's worktrees use their origin's id.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from gg_research.config import Config
from gg_research.errors import GGError
from gg_research.workspace_map import WorkspaceMap, data_home, origin_workspace

__all__ = ["data_cache", "data_home", "dataset_label", "dataset_root", "origin_workspace", "synthetic_cached",
           "workspace_id", "workspace_secret"]


def workspace_id(workspace: Path) -> str:
    """The workspace's id (`.gg/id`, random, made once; a parallel loop's worktree has its origin's)."""
    path = WorkspaceMap(origin_workspace(workspace) or Path(workspace)).id_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_once(path, secrets.token_hex(16).encode())
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise GGError(f"{path}: cannot read the workspace's id ({exc})") from exc
    if len(text) != 32 or any(c not in "0123456789abcdef" for c in text):
        raise GGError(f"{path}: not a workspace id (32 hex digits); delete the file to make a new one "
                      f"(the synthetic data is then made again)")
    return text


def data_cache(workspace: Path) -> Path:
    """The workspace's synthetic-data cache, outside the workspace. A cache left by an older
    version in the workspace (`.gg/data`) is moved there the first time."""
    cache = data_home() / "workspaces" / workspace_id(workspace) / "data"
    legacy = WorkspaceMap(Path(workspace)).legacy_data
    if legacy.is_dir() and not legacy.is_symlink() and not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(legacy), str(cache))
        print(f"[gg-research] moved the synthetic data (its labels) out of the workspace, to {cache}", file=sys.stderr)
    return cache


def dataset_root(workspace: Path, config: Config) -> Path:
    """The dataset folder of a workspace, generating the synthetic set (once, cached) if none is set."""
    if config.data.dataset:
        root = Path(config.data.dataset).expanduser()
        return root if root.is_absolute() else (Path(workspace) / root).resolve()
    from gg_research.ggnet.synth import ensure_synthetic

    d = config.data
    cache = data_cache(workspace)
    return Path(ensure_synthetic(cache, d.synth_n, d.synth_size, d.synth_seed, preset=d.synth_preset,
                                 secret=workspace_secret(cache)))


def synthetic_cached(workspace: Path, config: Config) -> bool:
    """Whether the workspace's synthetic set is generated already (so a caller can say when it is not)."""
    from gg_research.ggnet.synth import synthetic_name

    d, cache = config.data, data_cache(workspace)
    name = synthetic_name(d.synth_n, d.synth_size, d.synth_seed, d.synth_preset, workspace_secret(cache))
    return (cache / name / "manifest.jsonl").is_file()


def _write_once(path: Path, data: bytes) -> None:
    """`data` to `path` whole, unless another writer made it first (whose content then wins)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


SECRET_FILE = ".secret"


def workspace_secret(cache: Path) -> bytes:
    """The workspace's secret, made once: its synthetic validation and test labels depend on it.

    It lives in the data cache (which a parallel loop's worktrees share), a folder no run's box holds."""
    path = Path(cache) / SECRET_FILE
    try:
        data = path.read_bytes()
        if len(data) >= 16:
            return data
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_once(path, secrets.token_bytes(32))  # a concurrent maker's secret wins if it came first
    return path.read_bytes()
def dataset_label(config: Config) -> str:
    """A description of the dataset that does not depend on where the workspace lies."""
    d = config.data
    if d.dataset:
        return f"folder:{d.dataset}"
    # The easy preset keeps the label it had before presets existed, so older ledgers still match.
    preset = "" if d.synth_preset == "easy" else f",preset={d.synth_preset}"
    return f"synthetic:n={d.synth_n},size={d.synth_size},seed={d.synth_seed}{preset}"
