"""Where a workspace's data lives: the configured dataset folder or the cached synthetic set."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from gg_research.config import Config


def dataset_root(workspace: Path, config: Config) -> Path:
    """The dataset folder of a workspace, generating the synthetic set (once, cached) if none is set."""
    if config.data.dataset:
        root = Path(config.data.dataset).expanduser()
        return root if root.is_absolute() else (Path(workspace) / root).resolve()
    from gg_research.ggnet.synth import ensure_synthetic

    d = config.data
    cache = Path(workspace) / ".gg" / "data"
    return Path(ensure_synthetic(cache, d.synth_n, d.synth_size, d.synth_seed, preset=d.synth_preset,
                                 secret=workspace_secret(cache)))


def synthetic_cached(workspace: Path, config: Config) -> bool:
    """Whether the workspace's synthetic set is generated already (so a caller can say when it is not)."""
    from gg_research.ggnet.synth import synthetic_name

    d, cache = config.data, Path(workspace) / ".gg" / "data"
    name = synthetic_name(d.synth_n, d.synth_size, d.synth_seed, d.synth_preset, workspace_secret(cache))
    return (cache / name / "manifest.jsonl").is_file()


SECRET_FILE = ".secret"


def workspace_secret(cache: Path) -> bytes:
    """The workspace's secret, made once: its synthetic validation and test labels depend on it.

    It lives in the data cache (which a parallel loop's worktrees link to, so they share it), a
    folder no run's box holds."""
    path = Path(cache) / SECRET_FILE
    try:
        data = path.read_bytes()
        if len(data) >= 16:
            return data
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".secret.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        os.link(tmp, path)  # whole or not at all; a concurrent maker's secret wins if it came first
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return path.read_bytes()
def dataset_label(config: Config) -> str:
    """A description of the dataset that does not depend on where the workspace lies."""
    d = config.data
    if d.dataset:
        return f"folder:{d.dataset}"
    # The easy preset keeps the label it had before presets existed, so older ledgers still match.
    preset = "" if d.synth_preset == "easy" else f",preset={d.synth_preset}"
    return f"synthetic:n={d.synth_n},size={d.synth_size},seed={d.synth_seed}{preset}"
