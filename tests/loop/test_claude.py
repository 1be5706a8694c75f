"""The claude proposer through the real Anthropic SDK against a fake Messages API on 127.0.0.1."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from gg_research.retrieval import Passage
from tests.loop.fake_anthropic import RATE_LIMITED, FakeAnthropic, tool_use
from tests.loop.fakes import make_workspace, records

KEY = "sk-ant-test-SECRET-7f3a9c"
PROGRAM_LINE = "Raise PBQC and Dice together."
THESIS = Passage("doc1:7", "doc1", "thesis.pdf", 42, 43, "3.3.4 Training schedule",
                 "Joint training of the STN and the segmentation head from the first epoch avoids PBQC collapse.", 0.9)
EXTRA = Passage("doc2:3", "doc2", "paper.pdf", 5, 5, "2.1 Losses",
                "Doubling the alignment loss weight helped; five times collapsed the alignment.", 0.8)


class FakeSearcher:
    """Same interface as retrieval.Searcher, over two fixed passages."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def is_empty(self) -> bool:
        return False

    def search(self, query: str, k: int = 5) -> list[Passage]:
        self.queries.append(query)
        return [THESIS, EXTRA][:k] if "loss" not in query else [EXTRA]

    def get(self, chunk_ids: list[str]) -> list[Passage]:
        return [p for p in (THESIS, EXTRA) if p.chunk_id in chunk_ids]


def _loop(ws: Path, url: str, n: int = 1, extra: str = "", searcher=None, configured: bool = False, **options):
    """Run tag "c" for n experiments against the fake API (`configured`: the toml already points at it)."""
    from gg_research.config import load_config
    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.loop.proposers.select import proposer_factory
    from gg_research.loop.ui import LoopUI

    toml = ws / "gg-research.toml"
    if not configured:
        text = toml.read_text().replace("[proposer]\n", f'[proposer]\nbase_url = "{url}"\nmax_retries = 2\nsearch_calls = 2\n{extra}')
        if extra:
            text = text.replace("max_refusals = 0\n", "", 1)
        toml.write_text(text)
        subprocess.run(["git", "-C", str(ws), "commit", "-qam", "fake API"], check=True)
    buf = io.StringIO()
    ui = LoopUI(Console(file=buf, width=200))
    eng = LoopEngine(ws, load_config(toml), Options(tag="c", max_experiments=n, write_report=False, **options),
                     proposer_factory("claude", say=ui.say), ui=ui)
    eng.session.grounding._searcher = searcher if searcher is not None else FakeSearcher()
    # fast outer backoff for the test; the SDK's own retries use the server's retry-after-ms
    factory = eng.proposer_factory

    def fast(engine):
        p = factory(engine)
        p._sleep = lambda s: None
        return p

    eng.proposer_factory = fast
    code = eng.run()
    return eng, code, buf.getvalue()


GOOD = {"title": "QA 1 -> 2 per the training schedule", "rationale": "[doc1:7] says joint training helps",
        "expected": {"pbqc": "up", "dice": "same"}, "citations": ["doc1:7", "doc2:3"],
        "edits": [{"path": "train.py", "search": "QA = 1.0", "replace": "QA = 2.0"}]}


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    return make_workspace(tmp_path / "ws")


def _texts(body: dict) -> str:
    out = []
    for block in body.get("system", []):
        out.append(block["text"])
    for msg in body["messages"]:
        content = msg["content"]
        if isinstance(content, str):
            out.append(content)
            continue
        for block in content:
            if block.get("type") == "text":
                out.append(block["text"])
            if block.get("type") == "tool_result":
                out.extend(c["text"] for c in block["content"])
    return "\n".join(out)


def test_tool_use_exchange_carries_passages_and_program(ws: Path) -> None:
    replies = [(200, tool_use("search_knowledge", {"query": "loss weight collapse", "k": 2}, "tu_1")),
               (200, tool_use("propose_experiment", GOOD, "tu_2"))]
    with FakeAnthropic(replies) as api:
        _, code, _ = _loop(ws, api.url)
    assert code == 0 and len(api.requests) == 2
    first, second = api.requests
    # the SDK sends the key (x-api-key or a Bearer header, by SDK version); the loop writes it nowhere
    assert KEY in (api.headers[0].get("x-api-key", "") + api.headers[0].get("authorization", ""))
    # static parts cached: program.md in the system prompt, the passages block in the first turn
    assert PROGRAM_LINE in first["system"][1]["text"] and first["system"][1]["cache_control"] == {"type": "ephemeral"}
    passages_block = first["messages"][0]["content"][0]
    assert passages_block["cache_control"] == {"type": "ephemeral"}
    assert "[doc1:7] thesis.pdf pp. 42-43, §3.3.4 Training schedule" in passages_block["text"]
    assert "Joint training of the STN" in passages_block["text"]
    assert "QA = 1.0  # search: float(0.0, 3.0)" in first["messages"][0]["content"][1]["text"]  # mutable file
    assert "e0001 [baseline]" in first["messages"][0]["content"][1]["text"]  # ledger summary
    assert {t["name"] for t in first["tools"]} == {"search_knowledge", "training_curve", "propose_experiment"}
    assert first["tool_choice"] == {"type": "auto"}
    # the second request answers the search with the searcher's passages, by key
    result = second["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "tu_1"
    assert "[doc2:3] paper.pdf p. 5, §2.1 Losses" in result["content"][0]["text"]
    rec = records(ws)[-1]
    assert rec.status == "keep" and rec.proposer == "claude"
    cites = rec.hypothesis["citations"]
    assert [c["chunk_id"] for c in cites] == ["doc1:7", "doc2:3"]
    assert cites[0]["source"] == "thesis.pdf" and cites[0]["page"] == 42 and cites[0]["section"] == "3.3.4 Training schedule"
    shown = {p["chunk_id"] for p in rec.passages}
    assert shown == {"doc1:7", "doc2:3"}


def test_search_limit_forces_the_proposal(ws: Path) -> None:
    replies = [(200, tool_use("search_knowledge", {"query": "stn"}, f"tu_{i}")) for i in range(2)]
    replies.append((200, tool_use("propose_experiment", GOOD, "tu_9")))
    with FakeAnthropic(replies) as api:
        _loop(ws, api.url)
    assert [r["tool_choice"] for r in api.requests] == [
        {"type": "auto"}, {"type": "auto"}, {"type": "tool", "name": "propose_experiment"}]


def test_rate_limit_then_success(ws: Path) -> None:
    replies = [RATE_LIMITED, (200, tool_use("propose_experiment", GOOD, "tu_1"))]
    with FakeAnthropic(replies) as api:
        _, code, _ = _loop(ws, api.url)
    assert code == 0 and len(api.requests) == 2
    assert api.requests[0] == api.requests[1]  # the same request, retried
    assert records(ws)[-1].status == "keep"


def test_malformed_tool_input_goes_back_with_the_reason(ws: Path) -> None:
    bad = {"title": "no edits", "rationale": "x"}
    replies = [(200, tool_use("propose_experiment", bad, "tu_1")), (200, tool_use("propose_experiment", GOOD, "tu_2"))]
    with FakeAnthropic(replies) as api:
        _loop(ws, api.url)
    back = api.requests[1]["messages"][-1]["content"][0]
    assert back["type"] == "tool_result" and back["tool_use_id"] == "tu_1" and back["is_error"] is True
    assert "edits" in back["content"][0]["text"] and "Field required" in back["content"][0]["text"]
    assert records(ws)[-1].title == GOOD["title"]


def test_refused_edit_is_fed_back_in_the_next_prompt(ws: Path) -> None:
    wrong = {**GOOD, "title": "wrong search", "edits": [{"path": "train.py", "search": "QA = 7.0", "replace": "QA = 2.0"}]}
    replies = [(200, tool_use("propose_experiment", wrong, "tu_1")), (200, tool_use("propose_experiment", GOOD, "tu_2"))]
    with FakeAnthropic(replies) as api:
        _loop(ws, api.url, extra="max_refusals = 2\n")
    assert "refused" in _texts(api.requests[1]) and "not found in train.py" in _texts(api.requests[1])
    assert [r.status for r in records(ws)] == ["baseline", "refused", "keep"]


def test_api_down_falls_back_to_optuna_and_never_dies(ws: Path) -> None:
    with FakeAnthropic([]) as api:  # every request answers 529 overloaded
        _, code, out = _loop(ws, api.url, n=1)
    assert code == 0
    rec = records(ws)[-1]
    assert rec.proposer == "optuna" and rec.status in ("keep", "discard")
    assert "optuna proposes this experiment instead" in out
    assert len(api.requests) == 3 * 3  # 3 outer attempts x (1 + 2 SDK retries)


def test_api_key_is_in_no_file_the_loop_wrote(ws: Path) -> None:
    replies = [RATE_LIMITED, (200, tool_use("search_knowledge", {"query": "x"}, "tu_1")),
               (200, tool_use("propose_experiment", {"title": "bad"}, "tu_2")),
               (200, tool_use("propose_experiment", GOOD, "tu_3"))]
    with FakeAnthropic(replies) as api:
        _, _, out = _loop(ws, api.url)
    assert KEY not in out
    scanned = 0
    for path in ws.rglob("*"):
        if path.is_file():
            scanned += 1
            assert KEY.encode() not in path.read_bytes(), path
    log = subprocess.run(["git", "-C", str(ws), "log", "--all", "-p"], capture_output=True, text=True).stdout
    assert KEY not in log and scanned > 10
    assert any((ws / "results").rglob("run.log"))


def test_missing_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.loop.errors import ProposerError

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(ProposerError, match="ANTHROPIC_API_KEY"):
        _loop(ws, "http://127.0.0.1:9")


@pytest.mark.slow
def test_real_knowledge_base_passages_reach_the_prompt_and_the_ledger(ws: Path) -> None:
    from importlib import resources

    from gg_research.config import load_config
    from gg_research.knowledge.ingest import Ingestor
    from gg_research.retrieval import Searcher

    notes = Path(str(resources.files("gg_research").joinpath("data", "gg-net-notes.md")))
    cfg = load_config(ws / "gg-research.toml")
    ingestor = Ingestor(ws, cfg.knowledge)
    ingestor.ingest([notes])
    hit = Searcher(ws, cfg.knowledge, embedder=ingestor.embedder).search("why alignment comes first", k=1)[0]
    good = {**GOOD, "citations": [hit.chunk_id]}
    replies = [(200, tool_use("search_knowledge", {"query": "STN rotation range collapse", "k": 2}, "tu_1")),
               (200, tool_use("propose_experiment", good, "tu_2"))]
    with FakeAnthropic(replies) as api:
        _loop(ws, api.url, searcher=Searcher(ws, cfg.knowledge, embedder=ingestor.embedder))
    first = api.requests[0]["messages"][0]["content"][0]["text"]
    # The document by its title: the path of a file outside the workspace never goes to the API.
    assert f"[{hit.doc_id}:" in first and "] GG-Net: notes from the dissertation" in first
    searched = api.requests[1]["messages"][-1]["content"][0]["content"][0]["text"]
    assert "] GG-Net: notes from the dissertation" in searched
    assert not any(str(notes.parent) in str(r) for r in api.requests)
    rec = records(ws)[-1]
    cite = rec.hypothesis["citations"][0]
    assert cite["chunk_id"] == hit.chunk_id and cite["source"].endswith("gg-net-notes.md") and cite["text"]
    assert cite["section"] and cite["page"] >= 0
    assert any(p["source"].endswith("gg-net-notes.md") for p in rec.passages)


def test_curve_readings_reach_the_prompt_and_the_tool_gives_the_whole_series(ws: Path) -> None:
    """The runs print their curves as a [run] command may; the next prompt reads each in one line,
    and training_curve answers with the series."""
    from tests.loop.fakes import git

    train = ws / "train.py"
    train.write_text(train.read_text().replace('CURVE = "none"', 'CURVE = "early"'))
    git(ws, "commit", "-qam", "the baseline's loss flattens early")
    cut_short = {**GOOD, "title": "a slower schedule", "edits": [
        {"path": "train.py", "search": 'CURVE = "early"', "replace": 'CURVE = "falling"'},
        {"path": "train.py", "search": "QA = 1.0", "replace": "QA = 0.9"}]}
    replies = [(200, tool_use("propose_experiment", cut_short, "tu_1")),
               (200, tool_use("training_curve", {"experiment": "e0002"}, "tu_2")),
               (200, tool_use("propose_experiment", GOOD, "tu_3"))]
    with FakeAnthropic(replies) as api:
        _, code, _ = _loop(ws, api.url, n=2)
    assert code == 0 and len(api.requests) == 3
    assert "training_curve" in {t["name"] for t in api.requests[0]["tools"]}
    ledger = api.requests[1]["messages"][0]["content"][1]["text"]
    section = ledger.split("## Training curves", 1)[1].split("\n\n", 1)[0]
    assert "- e0001 (baseline): loss 0.952 → 0.5, plateaued at 15% of the run" in section
    assert ("- e0002 (previous, discard): loss 0.995 → 0.368, still improving at the end (final slope -9.9% per tenth "
            "of the run): budget-bound, the idea may need more steps rather than be wrong") in section
    answer = api.requests[2]["messages"][-1]["content"][0]["content"][0]["text"]
    assert answer.startswith("e0002 loss: 60 of 200 points reported (step, seconds since start, value)\n1 ")
    assert "\n200 " in answer and "reading: loss 0.995 → 0.368, still improving" in answer
    assert answer.endswith("other series: lr")
