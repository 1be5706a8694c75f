"""The whole of gg-research.toml (`Config`), and how it is read and found."""

from __future__ import annotations

import posixpath
import tomllib
from pathlib import Path, PurePosixPath

from pydantic import Field, ValidationError, model_validator

from gg_research.config.experiment import HARNESS_METRICS, DataSection, ParallelSection, RunSection, WorkspaceSection
from gg_research.config.judging import ExportSection, KeepSection, ObjectiveConfig, ReportSection, default_objectives
from gg_research.config.proposing import KnowledgeSection, ProposerSection
from gg_research.config.section import Section
from gg_research.errors import ConfigError
from gg_research.workspace_map import CONFIG_NAME, GIT_DIR, RESULTS_DIR, STATE_DIR

# Files the loop reads to judge or steer, never to be edited by what it judges: the config (budget, box,
# keep rule), what git ignores or rewrites, and the loop's own folders.
_FROZEN_FILES = (CONFIG_NAME, ".gitignore", ".gitattributes", ".gitmodules")
_FROZEN_DIRS = (STATE_DIR, RESULTS_DIR, GIT_DIR)


class Config(Section):
    workspace: WorkspaceSection = Field(default_factory=WorkspaceSection)
    data: DataSection = Field(default_factory=DataSection)
    run: RunSection = Field(default_factory=RunSection)
    objectives: list[ObjectiveConfig] = Field(default_factory=default_objectives)
    keep: KeepSection = Field(default_factory=KeepSection)
    proposer: ProposerSection = Field(default_factory=ProposerSection)
    knowledge: KnowledgeSection = Field(default_factory=KnowledgeSection)
    parallel: ParallelSection = Field(default_factory=ParallelSection)
    report: ReportSection = Field(default_factory=ReportSection)
    export: ExportSection = Field(default_factory=ExportSection)

    @model_validator(mode="after")
    def _check_objectives(self) -> Config:
        names = [o.name for o in self.objectives]
        if not names:
            raise ValueError("objectives: at least one objective is needed")
        if len(set(names)) != len(names):
            raise ValueError(f"objectives: duplicate names {names}")
        if self.keep.rule == "threshold" and self.keep.primary not in names:
            raise ValueError(f"keep.primary: {self.keep.primary!r} is not one of the objectives {names}")
        unknown = [n for n in names if n not in HARNESS_METRICS]
        if unknown and not self.run.command:
            # Found now, not after a night of runs that all "lack" the objective.
            raise ValueError(f"objectives: the harness does not report {', '.join(map(repr, unknown))} "
                             f"(it reports {', '.join(HARNESS_METRICS)}); a [run] command may report its own")
        return self

    @model_validator(mode="after")
    def _check_mutable(self) -> Config:
        for entry in self.workspace.mutable:
            why = self._frozen_why(entry)
            if why:
                raise ValueError(f"workspace.mutable: {entry!r} {why}; list only files the loop may edit (train.py, ...)")
        return self

    def _frozen_why(self, entry: str) -> str | None:
        """Why `entry` must stay frozen (the harness or the loop trusts it), or None."""
        path = posixpath.normpath(entry.replace("\\", "/"))
        if PurePosixPath(path).is_absolute() or path == ".." or path.startswith("../"):
            return "is outside the workspace"
        if path in _FROZEN_FILES:
            return "is frozen (the loop reads it to judge and steer)"
        if path.split("/", 1)[0] in _FROZEN_DIRS:
            return f"is under {path.split('/', 1)[0]}/, which gg-research keeps"
        if path == posixpath.normpath(self.workspace.brief):
            return "is the research brief (workspace.brief), which steers the proposer"
        data = self.data.dataset and posixpath.normpath(self.data.dataset)
        if data and not PurePosixPath(data).is_absolute() and (path == data or path.startswith(data + "/")):
            return "is in the dataset folder (data.dataset), a frozen input of every run"
        return None

    def objective(self, name: str) -> ObjectiveConfig:
        for o in self.objectives:
            if o.name == name:
                return o
        raise KeyError(name)


def _describe(err: ValidationError, path: Path) -> str:
    first = err.errors()[0]
    # A check across tables (Config's own validators) has no location: its sentence names the key itself.
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")  # our own validators' sentences, without pydantic's prefix
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    return f"{path}: {loc}: {msg}" if loc else f"{path}: {msg}"


def load_config(path: Path) -> Config:
    """Read and validate a gg-research.toml; raise ConfigError with a one-line reason."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file (run 'gg-research init DIR' to make a workspace)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def find_workspace(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding gg-research.toml."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise ConfigError(f"{here}: not inside a gg-research workspace (no {CONFIG_NAME} here or above; run 'gg-research init DIR')")
