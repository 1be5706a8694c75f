"""The report's training curves (each front member against its parent) and report.json carrying
everything the page shows."""

from __future__ import annotations

import json
import math
from pathlib import Path

from gg_research.results.report import write_report
from tests.results.night import load, night_records, write_workspace
from tests.results.test_curves import write_curve


def _night_with_curves(root: Path) -> Path:
    records = night_records()
    for rec in records:
        if rec["id"] in ("e0001", "e0002", "e0005"):
            rec["seeds"] = [{"seed": 0, "status": "ok", "metrics": rec["metrics"], "run_dir": f"results/runs/{rec['id']}"}]
    ws = write_workspace(root, records)
    runs = ws / "results" / "runs"
    write_curve(runs / "e0001", [1.0 - 0.5 * (1 - math.exp(-i / 8)) for i in range(120)])  # flattened early
    write_curve(runs / "e0002", [math.exp(-i / 120) for i in range(120)])  # still falling at the end
    write_curve(runs / "e0005", [0.9] * 60 + [float("nan")])  # broke (its other seed scored)
    return ws


def test_each_front_member_is_drawn_against_its_parent_and_read_in_words(tmp_path: Path) -> None:
    ws = _night_with_curves(tmp_path / "ws")
    write_report(ws, load(ws))
    out = ws / "results"
    assert (out / "curves.png").stat().st_size > 5000
    html = (out / "report.html").read_text()
    section = html.split('<section id="curves">', 1)[1].split("</section>", 1)[0]
    assert 'id="img-curves"' in section and "data:image/png;base64," in section
    assert "<strong>e0002</strong>: loss 1 → 0.371, still improving at the end" in section
    assert "parent e0001: loss 1 → 0.5, plateaued at" in section
    assert "<strong>e0005</strong>: loss NaN at step 61" in section
    assert "<strong>e0008</strong>: no curve recorded" in section  # no parent, no curve: said, not hidden
    md = (out / "report.md").read_text()
    assert "## Training curves" in md and "![training curves](curves.png)" in md
    assert "- **e0002**: loss 1 → 0.371, still improving at the end" in md


def test_report_json_carries_what_the_html_shows(tmp_path: Path) -> None:
    ws = _night_with_curves(tmp_path / "ws")
    data = json.loads(write_report(ws, load(ws), formats=("json",)).read_text())
    # The headline as the page shows it, the hypervolume readable and its reference stated.
    headline = {f["label"]: f for f in data["headline"]}
    hv = headline["hypervolume gain over the baseline"]
    assert hv["value"] == "+0.004303" and "measured from PBQC" in hv["detail"] and "(baseline)" in hv["detail"]
    assert data["reference_text"] == "PBQC 0.6033, Dice 0.5100 (baseline)"  # this night's config sets no floors
    # The ranking table, the progress plot's points, the cards with their diffs and citations.
    rows = {r["id"]: r for r in data["rows"]}
    assert len(rows) == 9 and rows["e0004"]["status"] == "crash" and rows["e0002"]["on_front"]
    assert [p["id"] for p in data["progress"]][:3] == ["e0001", "e0002", "e0003"]
    assert [c["id"] for c in data["cards"]] == ["e0002", "e0005", "e0008", "e0007"]
    assert data["cards"][0]["citations"][0]["section"] == "3.3.4 Training schedule" and "JOINT" in data["cards"][0]["diff"]
    # The curves, their readings, and who is drawn against whom.
    assert data["curve_parents"] == {"e0002": "e0001", "e0005": "e0002", "e0008": None}
    assert set(data["curves"]) == {"e0001", "e0002", "e0005"}
    assert data["curves"]["e0005"]["series"]["loss"][-1] == "nan"
    assert data["curves"]["e0002"]["reading"].startswith("loss 1 → 0.371, still improving")
    assert data["holdout"] == [] and data["paired"] == {} and "selection_optimism" in data
