"""Ingest and search against a real Chroma server started on 127.0.0.1 by the test."""

import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from gg_research.knowledge.errors import StoreError
from gg_research.knowledge.ingest import Ingestor
from gg_research.knowledge.knowledge_base import KnowledgeBase
from gg_research.retrieval.searcher import Searcher

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    exe = shutil.which("chroma")
    if exe is None:
        pytest.skip("the `chroma` command is not installed (pip install chromadb provides it)")
    port = free_port()
    log = open(tmp_path / "chroma.log", "w")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chroma server did not start: {(tmp_path / 'chroma.log').read_text()[-500:]}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_ingest_and_search_through_a_chroma_server(chroma_server, workspace, kcfg, embedder, thesis_pdf):
    cfg = kcfg.model_copy(update={"store": chroma_server, "collection": "thesis-kb"})
    [res] = Ingestor(workspace, cfg, embedder=embedder).ingest([thesis_pdf])
    assert res.status == "ingested"
    assert [d.doc_id for d in KnowledgeBase(workspace, cfg).documents()] == [res.doc_id]
    assert not (workspace / ".gg" / "chroma").exists()  # the chunks live on the server
    hits = Searcher(workspace, cfg, embedder=embedder).search("pre-training the STN alone collapsed alignment", k=3)
    assert hits[0].section == "3.3.4 Training schedule" and hits[0].page == 4
    [again] = Ingestor(workspace, cfg, embedder=embedder).ingest([thesis_pdf])
    assert again.status == "unchanged"


def test_an_unreachable_server_is_a_one_line_error(workspace, kcfg):
    cfg = kcfg.model_copy(update={"store": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(StoreError, match="unreachable") as err:
        _ = KnowledgeBase(workspace, cfg).store
    assert "\n" not in str(err.value)
