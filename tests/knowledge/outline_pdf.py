"""Writes small PDFs with an outline (bookmarks), as LaTeX's hyperref and word processors do,
for the tests of outline-driven sections: each page is a list of lines drawn top down."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence


def write_outlined(path: Path, pages: Sequence[Sequence[str]], outline: Sequence[tuple[str, int, int]] = ()) -> Path:
    """`outline`: (title, 1-based page, level) in document order; empty writes no outline."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle("Defects in printed parts")
    _, h = A4
    for number, lines in enumerate(pages, start=1):
        for i, (_, page, _) in enumerate(outline):
            if page == number:
                c.bookmarkPage(f"entry{i}")  # one key per entry: reportlab keeps one title per key
        y = h - 80
        for line in lines:
            c.setFont("Helvetica", 10)
            c.drawString(60, y, line)
            y -= 14
        c.showPage()
    for i, (title, _, level) in enumerate(outline):
        c.addOutlineEntry(title, f"entry{i}", level=level)
    c.save()
    return path


BODY = "The camera watches the bed and the network compares each printed layer with its rendering."
PAGES = [
    ["A Study of Defects in Printed Parts", "J. Doe, University of Somewhere"],
    ["Contents", "1 Introduction . . . . . . . . 3", "1.1 Motivation . . . . . . . . 3", "2 Method . . . . . . . . . . 4"],
    [
        "Chapter 1 Introduction This chapter introduces defects in printed parts and why they matter.",
        BODY,
        "1.1 Motivation The aim of this project is to find defects while the part is being printed.",
        BODY,
    ],
    [
        "The comparison needs each layer registered against its rendering before anything else.",
        "2 Method",
        "We train a U-Net on rendered layers with a dice loss because defects are rare pixels.",
        "2.1 Loss weighting",
        "The dice term is weighted twice as much as the cross-entropy term in the total loss.",
        "Diagnostic plots",
        "The residuals against the fitted values show no trend, so the model is adequate here.",
    ],
    ["References", "[1] Ronneberger, O., Fischer, P. U-Net. MICCAI 2015.", "[2] Long, J., Shelhamer, E. FCN. CVPR 2015."],
]
# The outline lists the chapters, the motivation and an unnumbered sub-heading, but not 2.1.
OUTLINE = [
    ("Contents", 2, 0), ("Chapter 1 Introduction", 3, 0), ("1.1 Motivation", 3, 1), ("2 Method", 4, 0),
    ("Diagnostic plots", 4, 1), ("References", 5, 0),
]
