from tests.knowledge.kbfixtures import embedder, kcfg, thesis_pdf, workspace  # noqa: F401
