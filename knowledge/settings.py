"""The workspace and its [knowledge] settings, as the kb commands need them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gg_research.config import KnowledgeSection


def workspace_knowledge(collection: str | None = None, start: Path | None = None) -> tuple[Path, KnowledgeSection]:
    """(workspace root, its [knowledge] section), with `collection` (--kb) overriding the configured one."""
    from gg_research.config import CONFIG_NAME, find_workspace, load_config

    workspace = find_workspace(start)
    config = load_config(workspace / CONFIG_NAME).knowledge
    if collection:
        config = config.model_copy(update={"collection": collection})
    return workspace, config
