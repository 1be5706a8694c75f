"""The MCP tool search_knowledge: documents named by title, references only when included."""

from pathlib import Path

import pytest

from tests.knowledge.kbfixtures import embedder  # noqa: F401
from tests.knowledge.outline_pdf import OUTLINE, PAGES, write_outlined


def test_search_knowledge_names_documents_not_paths_and_includes_references_on_request(tmp_path: Path, embedder, monkeypatch):  # noqa: F811
    from mcp.server.mcpserver.exceptions import ToolError

    from gg_research.commands.mcp_server import Lab
    from gg_research.config import load_config
    from gg_research.knowledge.ingest import Ingestor
    from gg_research.loop.grounding import Grounding
    from gg_research.retrieval.searcher import Searcher

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "gg-research.toml").write_text("")
    private = tmp_path / "home" / "jdoe" / "drafts"
    private.mkdir(parents=True)
    pdf = write_outlined(private / "thesis-v7.pdf", PAGES, OUTLINE)  # outside the workspace: an absolute source
    cfg = load_config(ws / "gg-research.toml")
    Ingestor(ws, cfg.knowledge, embedder=embedder).ingest([pdf])
    searcher = Searcher(ws, cfg.knowledge, embedder=embedder)
    monkeypatch.setattr(Grounding, "searcher", lambda self: searcher)  # the session's model, not a second load
    lab = Lab(ws, cfg, "t")

    found = lab.search_knowledge("Ronneberger Fischer U-Net MICCAI dice loss", k=10)["passages"]
    assert found and {p["kind"] for p in found} == {"body"}
    assert all(p["document"] == "Defects in printed parts" and "source" not in p for p in found)
    assert str(private) not in repr(found)
    refs = lab.search_knowledge("Ronneberger Fischer U-Net MICCAI", k=3, include=["references"])["passages"]
    assert refs[0]["kind"] == "references" and refs[0]["section"] == "References"
    # Citations are checked against the knowledge base; a bad one names the keys the agent was shown.
    lab.check_citations([found[0]["key"], refs[0]["key"]])
    with pytest.raises(ToolError, match=rf"citation 'bogus:999' is not a passage.*gave you: .*{refs[0]['key']}"):
        lab.check_citations([found[0]["key"], "bogus:999"])
