"""The written report: HTML, Markdown, JSON and plots, for full, odd and empty ledgers."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from gg_research.results.errors import LedgerMissingError, ReportWriteError
from gg_research.results.report import write_report
from tests.results.night import load, night_records, write_workspace


def _ids_in_table(html: str) -> list[str]:
    body = html.split('<table id="ranking-table">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr[^>]*>\s*<td[^>]*>.*?</td>\s*<td[^>]*>(?:<a [^>]*>)?(e\d{4})", body, flags=re.S)


def _inline_pngs(html: str) -> dict[str, Image.Image]:
    out = {}
    for name, data in re.findall(r'<img id="img-(\w+)"[^>]*src="data:image/png;base64,([^"]+)"', html):
        out[name] = Image.open(io.BytesIO(base64.b64decode(data)))
    return out


@pytest.mark.slow
def test_full_night_report(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    main = write_report(ws, load(ws))
    assert main == ws / "results" / "report.html"
    for name in ("report.html", "report.md", "report.json", "pareto.png", "progress.png"):
        assert (ws / "results" / name).stat().st_size > 0, name
    html = main.read_text()

    # Self-contained: both plots inline as real PNGs, nothing fetched from anywhere.
    pngs = _inline_pngs(html)
    assert set(pngs) == {"pareto", "progress"}
    assert all(img.size[0] > 500 for img in pngs.values())
    assert not re.search(r'(src|href)="(https?:|//)', html)
    assert "default-src 'none'" in html

    # Table ranked by front rank: front, then rank 2 (baseline before discards), then no-metric runs.
    assert _ids_in_table(html) == ["e0002", "e0005", "e0008", "e0001", "e0003", "e0007", "e0004", "e0006", "e0009"]
    # The invalid run's claimed numbers are shown struck through, never as results.
    assert '<s title="not trusted: invalid">1.0000</s>' in html
    # Headline.
    assert ">9 <small>over 1.2 h</small>" in html
    assert "0.6700 <small>e0008</small>" in html and "0.6000 <small>e0005</small>" in html
    assert ">3 / 2 / 1 <small>1 invalid, 1 running, 1 baseline</small>" in html

    # Cards for the front and the near-miss, with cited passages and the escaped diff.
    cards = re.findall(r'<article class="card (\w+)" id="(e\d+)"', html)
    assert cards == [("front", "e0002"), ("front", "e0005"), ("front", "e0008"), ("near", "e0007")]
    e8 = html.split('id="e0008"', 1)[1].split("</article>", 1)[0]
    assert "lin2017-focal.pdf, p. 4, §3 Focal Loss" in e8 and "thesis.pdf, p. 102, §4.2 Loss weighting" in e8
    assert "focusing training on hard negatives" in e8
    assert "keep by the pareto rule" in e8
    assert '<div class="why">pbqc 0.21 below the collapse floor 0.48</div>' in html
    assert "step &lt; WARMUP_STEPS and loss &gt; 0:  # keep &lt;, &gt; and &amp; intact" in e8
    assert '<span class="add">+    JOINT = True</span>' in e8
    e2 = html.split('id="e0002"', 1)[1].split("</article>", 1)[0]
    assert "thesis.pdf, p. 87–88, §3.3.4 Training schedule" in e2 and "ignore the &lt;render&gt; channel" in e2
    assert "<render>" not in html

    md = (ws / "results" / "report.md").read_text()
    assert "| rank | id | commit | PBQC | Dice | img/s | status | title | why |" in md
    assert "| 1 | e0002 ★ | c0ffee2 | 0.6600 | 0.5500 | — | keep | Joint training from step 0 | keep by the pareto rule |" in md
    assert "| crash | EfficientNet-B0 encoder | RuntimeError: channel mismatch (expected 4, got 3) |" in md
    assert "| (2) | e0007 near miss |" in md
    assert "| — | e0006 | c0ffee6 | ~~1.0000~~ | ~~0.9900~~ | — | invalid |" in md
    assert "![pareto plot](pareto.png)" in md and "![progress plot](progress.png)" in md
    assert "> *thesis.pdf, p. 87–88, §3.3.4 Training schedule [a1b2c3:41]*" in md
    assert "```diff\ndiff --git a/train.py b/train.py" in md

    data = json.loads((ws / "results" / "report.json").read_text())
    assert data["experiments"] == 9 and data["front"] == ["e0002", "e0005", "e0008"]
    assert data["best"]["pbqc"] == {"id": "e0008", "value": 0.67}
    assert data["hypervolume"] == pytest.approx(0.004303)


def test_json_only_writes_no_images(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    main = write_report(ws, load(ws), formats=("json",), out=tmp_path / "out")
    assert main == tmp_path / "out" / "report.json"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.json"]


def test_tag_selects_one_night(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    data = json.loads(write_report(ws, load(ws), tag="nov22", formats=("json",)).read_text())
    assert data["experiments"] == 9 and data["tag"] == "nov22"
    with (ws / "results" / "experiments.jsonl").open("a") as fh:
        fh.write(json.dumps({"id": "e0100", "tag": "nov23", "status": "keep", "metrics": {"pbqc": 0.9, "dice": 0.9}}) + "\n")
    both = json.loads(write_report(ws, load(ws), formats=("json",)).read_text())
    assert both["experiments"] == 10
    assert "experiments of 2 loop tags (nov22, nov23) are reported together; --tag picks one" in both["notes"]
    assert json.loads(write_report(ws, load(ws), tag="nov22", formats=("json",)).read_text())["notes"] == []
    other = json.loads(write_report(ws, load(ws), tag="dec01", formats=("json",)).read_text())
    assert other["experiments"] == 0 and other["front"] == []
    assert any("no experiment has tag 'dec01'; tags in the ledger: nov22, nov23" in w for w in other["warnings"])


def test_empty_ledger_gives_a_clear_page(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws", records=[], in_flight=False)
    main = write_report(ws, load(ws), formats=("html", "md", "json"))
    html = main.read_text()
    assert 'id="empty"' in html and "No experiments in the ledger yet" in html
    assert "<img" not in html and not (ws / "results" / "pareto.png").exists()
    assert "No experiments in the ledger yet" in (ws / "results" / "report.md").read_text()
    data = json.loads((ws / "results" / "report.json").read_text())
    assert data["experiments"] == 0 and data["front"] == [] and data["hypervolume"] is None
    assert data["best"] == {"pbqc": None, "dice": None}


@pytest.mark.slow
def test_single_experiment(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws", records=night_records()[:1], in_flight=False)
    html = write_report(ws, load(ws), formats=("html", "json")).read_text()
    data = json.loads((ws / "results" / "report.json").read_text())
    assert data["experiments"] == 1 and data["front"] == ["e0001"]
    assert data["hypervolume"] == 0.0 and data["hypervolume_gain"] == 0.0
    assert set(_inline_pngs(html)) == {"pareto", "progress"}
    assert _ids_in_table(html) == ["e0001"]
    assert '<article class="card front" id="e0001"' in html


@pytest.mark.slow
def test_all_crashed(tmp_path: Path):
    recs = [r for r in night_records() if r["status"] in ("crash", "invalid")]
    ws = write_workspace(tmp_path / "ws", records=recs)
    html = write_report(ws, load(ws), formats=("html", "json")).read_text()
    assert 'id="none-measured"' in html and "there is no front yet" in html
    assert _ids_in_table(html) == ["e0004", "e0006", "e0003"]  # e0003: the one in flight
    data = json.loads((ws / "results" / "report.json").read_text())
    assert data["front"] == [] and data["best"] == {"pbqc": None, "dice": None} and data["hypervolume"] is None
    # The crashes are drawn, not dropped: the crash colour appears on the Pareto plot.
    pareto = Image.open(ws / "results" / "pareto.png").convert("RGB")
    red = sum(1 for px in pareto.getdata() if abs(px[0] - 0xC6) < 20 and px[1] < 70 and px[2] < 70)
    assert red > 20


@pytest.mark.slow
def test_malformed_line_is_reported_and_the_rest_still_is(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws", extra_lines=['{"id": "e0010", "status": "kee'])
    html = write_report(ws, load(ws), formats=("html", "md")).read_text()
    assert 'id="warnings"' in html
    assert "experiments.jsonl line 18: not valid JSON" in html
    assert len(_ids_in_table(html)) == 9
    assert "experiments.jsonl line 18: not valid JSON" in (ws / "results" / "report.md").read_text()


def test_missing_and_escaping_diffs_are_explained(tmp_path: Path):
    recs = night_records()[:2]
    recs[1]["diff"] = "../../etc/passwd"
    ws = write_workspace(tmp_path / "ws", records=recs, in_flight=False)
    (ws / "results" / "runs" / "e0001" / "patch.diff").unlink()
    recs_html = write_report(ws, load(ws), formats=("md",))
    md = recs_html.read_text()
    assert "(diff path ../../etc/passwd lies outside the workspace; not shown)" in md
    assert "root:" not in md


def test_missing_ledger_is_an_error_not_a_page(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    (ws / "results" / "experiments.jsonl").unlink()
    with pytest.raises(LedgerMissingError, match="no ledger yet"):
        write_report(ws, load(ws))


def test_unwritable_output_folder_is_a_clear_error(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ReportWriteError, match="cannot create the report folder"):
        write_report(ws, load(ws), formats=("json",), out=blocker / "sub")


def test_unknown_format_is_refused(tmp_path: Path):
    ws = write_workspace(tmp_path / "ws")
    with pytest.raises(ValueError, match="formats must be among"):
        write_report(ws, load(ws), formats=("pdf",))


def test_markdown_fence_survives_backticks_in_a_diff(tmp_path: Path):
    recs = night_records()[:1]
    ws = write_workspace(tmp_path / "ws", records=recs, in_flight=False)
    (ws / "results" / "runs" / "e0001" / "patch.diff").write_text("+doc = '''```python'''\n")
    md = write_report(ws, load(ws), formats=("md",)).read_text()
    assert "````diff\n+doc = '''```python'''\n````" in md


@pytest.mark.slow
@pytest.mark.parametrize("objectives", [
    '[[objectives]]\nname = "dice"\n',
    '[[objectives]]\nname = "pbqc"\n\n[[objectives]]\nname = "peak_memory_mb"\ndirection = "minimize"\n',
    "".join(f'[[objectives]]\nname = "{n}"\n' for n in ("pbqc", "dice", "img_per_sec")),
], ids=["one-objective", "maximise-and-minimise", "three-objectives"])
def test_other_objective_sets_render(tmp_path: Path, objectives: str):
    recs = night_records()
    for i, r in enumerate(recs):
        if "metrics" in r:
            r["metrics"] = {**r["metrics"], "peak_memory_mb": 2000.0 + 1000 * (i % 3), "img_per_sec": 300.0 - 10 * i}
    ws = write_workspace(tmp_path / "ws", records=recs)
    (ws / "gg-research.toml").write_text(objectives)
    html = write_report(ws, load(ws), formats=("html", "json")).read_text()
    names = re.findall(r'name = "(\w+)"', objectives)
    header = html.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert [h for h in re.findall(r"<th>([^<]+)</th>", header) if h in names] == names
    assert set(_inline_pngs(html)) == {"pareto", "progress"}
    data = json.loads((ws / "results" / "report.json").read_text())
    assert [o["name"] for o in data["objectives"]] == names
    assert data["front"] and set(data["best"]) == set(names)
