"""Where a workspace's data lives: the configured dataset folder or the cached synthetic set."""

from __future__ import annotations

from pathlib import Path

from gg_research.config import Config


def dataset_root(workspace: Path, config: Config) -> Path:
    """The dataset folder of a workspace, generating the synthetic set (once, cached) if none is set."""
    if config.data.dataset:
        root = Path(config.data.dataset).expanduser()
        return root if root.is_absolute() else (Path(workspace) / root).resolve()
    from gg_research.ggnet.synth import ensure_synthetic

    d = config.data
    return Path(ensure_synthetic(Path(workspace) / ".gg" / "data", d.synth_n, d.synth_size, d.synth_seed, preset=d.synth_preset))


def dataset_label(config: Config) -> str:
    """A description of the dataset that does not depend on where the workspace lies."""
    d = config.data
    if d.dataset:
        return f"folder:{d.dataset}"
    # The easy preset keeps the label it had before presets existed, so older ledgers still match.
    preset = "" if d.synth_preset == "easy" else f",preset={d.synth_preset}"
    return f"synthetic:n={d.synth_n},size={d.synth_size},seed={d.synth_seed}{preset}"
