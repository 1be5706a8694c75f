"""The workspace configuration, `gg-research.toml`: typed, validated, self-documenting.

Field descriptions double as help text (`gg-research init` writes them as comments, render).
A wrong key or value is a one-line `ConfigError` that names it and the file. One section class
per table of the file: experiment ([workspace], [data], [run], [parallel]), proposing
([proposer], [knowledge]), judging ([[objectives]], [keep], [report], [export]); the whole file
and how it is read in model. Everything is importable from `gg_research.config` itself.
"""

from __future__ import annotations

from gg_research.config.experiment import HARNESS_METRICS, DataSection, ParallelSection, RunSection, WorkspaceSection
from gg_research.config.judging import EXPORTERS, ExportSection, KeepSection, ObjectiveConfig, ReportSection
from gg_research.config.model import Config, find_workspace, load_config
from gg_research.config.proposing import KnowledgeSection, PriceConfig, ProposerSection
from gg_research.config.render import render_default_toml, toml_value
from gg_research.errors import ConfigError  # callers of load_config catch it from here too
from gg_research.workspace_map import CONFIG_NAME

__all__ = ["CONFIG_NAME", "EXPORTERS", "HARNESS_METRICS", "Config", "ConfigError", "DataSection", "ExportSection",
           "KeepSection", "KnowledgeSection", "ObjectiveConfig", "ParallelSection", "PriceConfig", "ProposerSection",
           "ReportSection", "RunSection", "WorkspaceSection", "find_workspace", "load_config", "render_default_toml",
           "toml_value"]
