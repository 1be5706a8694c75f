"""`gg-research ingest / search / kb` through the real CLI parser and commands."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from gg_research.cli import main
from tests.knowledge.kbfixtures import embedder, thesis_pdf, workspace  # noqa: F401


@pytest.fixture
def ws(workspace, thesis_pdf, embedder, monkeypatch):  # noqa: F811
    shutil.copy(thesis_pdf, workspace / "thesis.pdf")
    (workspace / "bad.pdf").write_text("not really a pdf")
    monkeypatch.chdir(workspace)
    return workspace


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_reports_each_file_and_fails_with_1_when_one_failed(ws, capsys):
    code, out, err = run(capsys, "ingest", "thesis.pdf", "bad.pdf", "gone.pdf")
    assert code == 1
    assert "thesis.pdf: ingested as " in out and ": 8 pages, " in out and " sections" in out
    assert "1 ingested, 0 replaced, 0 unchanged, 2 failed" in out
    lines = err.strip().splitlines()
    assert lines == [
        "gg-research ingest: error: bad.pdf: not a PDF (no %PDF header; starts with b'not real')",
        "gg-research ingest: error: gone.pdf: no such file",
    ]
    code, out, _ = run(capsys, "ingest", "thesis.pdf")
    assert code == 0 and "thesis.pdf: unchanged" in out


def test_search_json_and_rich_output(ws, capsys):
    run(capsys, "ingest", "thesis.pdf")
    code, out, _ = run(capsys, "search", "what went wrong when the STN was trained alone first", "-k", "3", "--json")
    assert code == 0
    results = json.loads(out)
    assert len(results) == 3
    assert all(set(r) == {"source", "document", "page", "page_end", "section", "kind", "chunk_id", "score", "text"} for r in results)
    assert all(r["document"] == "GG-Net dissertation" and r["kind"] == "body" for r in results)
    assert all(r["page"] <= r["page_end"] <= 8 for r in results)
    assert (results[0]["source"], results[0]["page"], results[0]["section"]) == ("thesis.pdf", 4, "3.3.4 Training schedule")
    code, out, _ = run(capsys, "search", "what went wrong when the STN was trained alone first", "-k", "1")
    assert code == 0
    assert f"[{results[0]['chunk_id']}]" in out and "GG-Net dissertation p. 4, §3.3.4 Training schedule" in out
    assert f"score {results[0]['score']:.4f}" in out and 0.0 < results[0]["score"] <= 1.0


def test_search_shows_page_and_section_even_under_a_long_path(ws, capsys):
    deep = ws / "literature" / "a-rather-long-folder-name-for-the-thesis-drafts" / "final-submitted-version"
    deep.mkdir(parents=True)
    shutil.copy(ws / "thesis.pdf", deep / "thesis.pdf")
    run(capsys, "ingest", str(deep / "thesis.pdf"))
    code, out, _ = run(capsys, "search", "what went wrong when the STN was trained alone first", "-k", "1")
    assert code == 0
    # The header wraps inside the panel (80 columns under capsys) instead of being cut.
    flat = " ".join(line.strip("│╭╮╰╯─ ") for line in out.splitlines())
    assert "final-submitted-v" in flat and "GG-Net dissertation p. 4, §3.3.4 Training schedule" in " ".join(flat.split())


def test_a_folder_ingests_the_supported_files_under_it(ws, capsys):
    papers = ws / "papers"
    (papers / "sub").mkdir(parents=True)
    shutil.copy(ws / "thesis.pdf", papers / "sub" / "thesis-copy.pdf")
    (papers / "a.md").write_text("# A\n\nNote about nozzle clogs.\n")
    (papers / "figure.png").write_bytes(b"\x89PNG")
    (papers / ".hidden.md").write_text("# hidden\n\nskip me\n")
    code, out, err = run(capsys, "ingest", "papers")
    assert code == 0, err
    assert "papers/a.md: ingested" in out and "papers/sub/thesis-copy.pdf: ingested" in out
    assert "png" not in out + err and "hidden" not in out + err


def test_search_of_an_empty_knowledge_base(ws, capsys):
    code, out, _ = run(capsys, "search", "anything", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run(capsys, "search", "anything")
    assert code == 0 and "is empty" in out


def test_kb_list_and_remove_and_named_collections(ws, capsys):
    (ws / "notes.md").write_text("# Notes\n\n## Nozzle\n\nThe nozzle clogs with wet filament.\n")
    assert run(capsys, "ingest", "thesis.pdf")[0] == 0
    assert run(capsys, "ingest", "notes.md", "--kb", "lab-notes")[0] == 0
    code, out, _ = run(capsys, "kb", "list", "--json")
    assert code == 0 and [d["source"] for d in json.loads(out)] == ["thesis.pdf"]
    code, out, _ = run(capsys, "kb", "--kb", "lab-notes", "list")
    assert code == 0 and "notes.md" in out and "thesis.pdf" not in out
    deep = ws / ("a-rather-long-folder-name-for-the-literature-" * 3) / "ronneberger-2015-u-net-convolutional-networks.md"
    deep.parent.mkdir()
    deep.write_text("# U-Net\n\nA contracting and an expanding path.\n")
    assert run(capsys, "ingest", str(deep), "--kb", "lab-notes")[0] == 0
    code, out, _ = run(capsys, "kb", "--kb", "lab-notes", "list")  # stdout is not a terminal here
    assert code == 0 and any(deep.relative_to(ws).as_posix() in line for line in out.splitlines()), out
    code, out, err = run(capsys, "kb", "remove", "nothing-like-it")
    assert code == 2 and err.count("\n") == 1 and "nothing-like-it: no document" in err
    code, out, _ = run(capsys, "kb", "remove", "thesis.pdf")
    assert code == 0 and out.startswith("removed thesis.pdf (")
    assert json.loads(run(capsys, "kb", "list", "--json")[1]) == []


def test_commands_outside_a_workspace_and_usage_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv in (["kb", "list"], ["search", "x"], ["ingest", "x.pdf"]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "not inside a gg-research workspace" in err and err.count("\n") == 1
    (tmp_path / "gg-research.toml").write_text("")
    code, _, err = run(capsys, "search", "x", "-k", "0")
    assert code == 2 and "-k 0: must be at least 1" in err
    with pytest.raises(SystemExit) as exit_:
        main(["ingest"])
    assert exit_.value.code == 2


@pytest.mark.slow
def test_ingest_exit_code_in_a_real_process(workspace):  # noqa: F811
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "gg_research.cli", "ingest", "missing.pdf"],
        cwd=workspace, capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == "gg-research ingest: error: missing.pdf: no such file"
    assert "0 ingested, 0 replaced, 0 unchanged, 1 failed" in proc.stdout


def test_kb_list_says_where_sections_came_from_and_search_include_reaches_references(ws, capsys):
    from tests.knowledge.outline_pdf import OUTLINE, PAGES, write_outlined

    write_outlined(ws / "outlined.pdf", PAGES, OUTLINE)
    assert run(capsys, "ingest", "outlined.pdf", "thesis.pdf")[0] == 0
    docs = {d["source"]: d for d in json.loads(run(capsys, "kb", "list", "--json")[1])}
    assert docs["outlined.pdf"]["section_source"] == "outline" and docs["thesis.pdf"]["section_source"] == "text"
    code, out, _ = run(capsys, "kb", "list")
    assert code == 0 and "sections from" in out
    assert any("outlined.pdf" in line and " outline " in line for line in out.splitlines())
    query = "Ronneberger Fischer U-Net MICCAI"
    plain = json.loads(run(capsys, "search", query, "-k", "20", "--json")[1])
    assert "references" not in {r["kind"] for r in plain}
    code, out, _ = run(capsys, "search", query, "-k", "3", "--json", "--include", "references")
    assert code == 0 and json.loads(out)[0]["kind"] == "references"
    code, out, _ = run(capsys, "search", query, "--include", "references,figures", "-k", "1")
    assert code == 0 and "§References [references]" in out
    code, _, err = run(capsys, "search", query, "--include", "footnotes")
    assert code == 2 and err.count("\n") == 1 and "--include footnotes" in err
