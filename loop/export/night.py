"""What every tracker gets of one experiment: read once from the ledger, the run folders and git."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.errors import GGError
from gg_research.loop.git import Git
from gg_research.loop.search_space import parse_space
from gg_research.results.curves import Curve, experiment_curve, experiment_reading
from gg_research.results.ledger import Experiment, read_workspace_ledger


@dataclass
class NightRun:
    exp: Experiment
    knobs: dict[str, Any] = field(default_factory=dict)  # the declared search space's values at its commit
    curve: Curve | None = None
    reading: str = ""
    diff: Path | None = None

    @property
    def id(self) -> str:
        return self.exp.id

    @property
    def tag(self) -> str:
        return self.exp.tag or "untagged"

    @property
    def measured(self) -> bool:
        return self.exp.status.measured

    def citations(self) -> list[str]:
        cites = self.exp.hypothesis.get("citations")
        out = []
        for c in cites if isinstance(cites, list) else []:
            if isinstance(c, dict):
                where = ", ".join(str(x) for x in (c.get("source"), c.get("page") and f"p. {c['page']}",
                                                   c.get("section") and f"§{c['section']}") if x)
                out.append(f"{where} [{c.get('chunk_id', '')}]" if c.get("chunk_id") else where)
            elif isinstance(c, str):
                out.append(c)
        return out

    def millis(self, when: datetime | None) -> int | None:
        return int(when.timestamp() * 1000) if when is not None else None


def night_runs(workspace: Path, config: Config, tag: str | None = None) -> list[NightRun]:
    """The ledger's finished experiments (imported history and runs still in flight left out), oldest first."""
    ledger = read_workspace_ledger(workspace, tag)
    git = Git(workspace)
    in_git = git.is_repo()
    out = []
    for exp in ledger.experiments:
        if not exp.status.final or exp.imported is not None:
            continue
        diff = workspace / exp.diff if exp.diff else None
        reading = experiment_reading(workspace, exp)
        out.append(NightRun(exp, _knobs(git, exp, config) if in_git else {}, experiment_curve(workspace, exp),
                            reading.text if reading is not None else "",
                            diff if diff is not None and diff.is_file() else None))
    return out


def _knobs(git: Git, exp: Experiment, config: Config) -> dict[str, Any]:
    """The search space's constants as the experiment's commit (its parent's, for a run without one) had them."""
    commit = exp.commit or exp.parent_commit
    if not commit:
        return {}
    files = {}
    for path in config.workspace.mutable:
        try:
            text = git.show(commit, path)
        except GGError:
            text = None
        if text is not None:
            files[path] = text
    try:
        return {p.key: p.value for p in parse_space(files)}
    except GGError:  # a commit whose annotations do not parse: exported without knobs
        return {}
