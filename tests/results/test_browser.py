"""report.html opened in headless Chromium: both plots decode, the table is there, nothing fetched.

The screenshot is kept under artifacts/ at the repository root for a person to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from gg_research.results.report import write_report
from tests.results.night import load, write_workspace

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (scripts/setup.sh installs it)"),
]


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", f"--user-data-dir={profile}",
    ]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90)


@pytest.mark.parametrize("kind", ["night", "all-crashed"])
def test_report_renders_in_chromium(tmp_path: Path, kind: str):
    from tests.results.night import night_records

    records = None if kind == "night" else [r for r in night_records() if r["status"] in ("crash", "invalid")]
    ws = write_workspace(tmp_path / "ws", records=records)
    page = write_report(ws, load(ws), formats=("html",))
    url = page.resolve().as_uri()

    dom = _chromium(tmp_path / "profile-dom", "--virtual-time-budget=5000", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    check = re.search(r'id="render-check"[^>]*', dom.stdout)
    assert check, "render-check marker missing from the DOM"
    # Set by the page's own script once the images decoded: both plots, each with a width.
    assert 'data-images-total="2"' in check.group(0) and 'data-images-loaded="2"' in check.group(0), check.group(0)
    assert '<table id="ranking-table">' in dom.stdout
    rows = re.findall(r"<tr[ >]", dom.stdout.split('<table id="ranking-table">', 1)[1].split("</table>", 1)[0])
    assert len(rows) == 1 + (9 if kind == "night" else 3)  # header + one row per experiment

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{kind}.png"
    shot.unlink(missing_ok=True)
    result = _chromium(tmp_path / "profile-shot", "--hide-scrollbars", "--window-size=1280,2400",
                       f"--screenshot={shot}", url)
    assert result.returncode == 0, result.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (1280, 2400)
        # A blank page would be one colour; the plots and table give many.
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 200


def test_report_prints_with_headline_and_pareto_plot_on_page_one(tmp_path: Path):
    from pypdf import PdfReader

    ws = write_workspace(tmp_path / "ws")
    page = write_report(ws, load(ws), formats=("html",))
    pdf = tmp_path / "report.pdf"
    result = _chromium(tmp_path / "profile-pdf", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.resolve().as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    reader = PdfReader(pdf)
    first = reader.pages[0]
    # NFKC folds the "fi" ligature the PDF's font uses back into two letters.
    text = unicodedata.normalize("NFKC", first.extract_text())
    assert "Morning report" in text and "Headline" in text and "0.6700" in text
    # The Pareto plot's caption sits in the same unbreakable figure as the plot: both on page one.
    assert "Every experiment: kept runs filled" in text
    everything = unicodedata.normalize("NFKC", "\n".join(p.extract_text() for p in reader.pages))
    # Diffs wrap instead of running off the page: the longest diff line prints whole.
    assert "# keep <, > and & intact" in everything
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / "report-night.pdf")
