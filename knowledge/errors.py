"""User-facing errors of `knowledge`: each message is one line saying what and where."""

from __future__ import annotations

from gg_research.errors import GGError


class DocumentError(GGError):
    """One input file cannot be ingested (missing, empty, not a PDF, encrypted, no text...)."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class EmbedderError(GGError):
    """The configured embedder cannot be resolved or loaded offline."""


class EmbedderMismatchError(EmbedderError):
    """The collection was built with another embedder (name or dimension) than the configured one."""


class StoreError(GGError):
    """The vector store cannot be opened (bad collection name, unreachable server, ...)."""


class DocumentNotFound(GGError):
    """`kb remove` named no document, or more than one."""
