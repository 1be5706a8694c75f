"""gg-research: the command line and the workspace configuration."""

__version__ = "0.1.0"
