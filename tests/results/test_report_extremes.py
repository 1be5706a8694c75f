"""Red team of the report on a ledger's extreme values (issue 30, item 1: a fate's figures must read
without crashing). A `[run] command` scores itself, and the loop turns away only NaN and infinite
objectives; a finite value near the float's limit (a diverged loss of 1e308) is recorded as
measured, and then `gg-research report` ends in "unexpected ValueError: arange: cannot compute
length" (results/plots.plot_progress), and the loop's report is never refreshed again that night.
Found by mutating a real ledger's values at random, reduced to one line."""

from __future__ import annotations

from pathlib import Path

from gg_research.config import Config
from gg_research.results.report import write_report


def test_a_baseline_with_a_huge_finite_objective_still_gets_its_report(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "experiments.jsonl").write_text(
        '{"id": "e0001", "status": "baseline", "metrics": {"dice": 1e+308, "pbqc": 0.6}}\n', encoding="utf-8")
    write_report(tmp_path, Config(), formats=["md"])
    assert (tmp_path / "results" / "report.md").is_file()
    text = (tmp_path / "results" / "report.md").read_text(encoding="utf-8")
    assert "the progress plot could not be drawn" in text  # the gap is said, not silent
    assert not (tmp_path / "results" / "progress.png").exists()
