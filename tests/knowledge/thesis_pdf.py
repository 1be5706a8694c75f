"""Writes "thesis" PDFs for the tests and the benchmark with reportlab: numbered sections, a running
header and page-number footer on every page, words hyphenated across line ends (marked `|` in
the source text), ligature glyphs, and optionally a two-column page written line by line across
both columns (the order that breaks naive extraction)."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path
from typing import Sequence, Union

HEADER = "J. Doe - GG-Net: G-code-guided defect segmentation - Dissertation"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# A page is a list of items: ("h", heading), ("p", paragraph), ("cols", [left paras], [right paras]).
Item = Union[tuple[str, str], tuple[str, Sequence[str], Sequence[str]]]


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if Path(FONT).is_file():
        if "DejaVu" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("DejaVu", FONT))
        return "DejaVu"
    return "Helvetica"


def _wrap(text: str, width: int) -> list[str]:
    """Wrap at `width` characters; a `|` forces a line break right there (after a hyphen)."""
    lines: list[str] = []
    for part in text.split("|"):
        wrapped = textwrap.wrap(part, width, break_long_words=False, break_on_hyphens=False)
        if lines and wrapped and not lines[-1].endswith("-"):
            lines[-1] += " " + wrapped.pop(0)
        lines.extend(wrapped)
    return lines


def write_pdf(path: Path, pages: Sequence[Sequence[Item]], title: str = "GG-Net dissertation", header: bool = True) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _font()
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle(title)
    w, h = A4
    for number, items in enumerate(pages, start=1):
        if header:
            c.setFont(font, 8)
            c.drawString(60, h - 40, HEADER)
        y = h - 80
        for item in items:
            if item[0] == "h":
                c.setFont(font, 13)
                y -= 8
                c.drawString(60, y, str(item[1]))
                y -= 22
            elif item[0] == "p":
                c.setFont(font, 10)
                for line in _wrap(str(item[1]), 92):
                    c.drawString(60, y, line)
                    y -= 13
                y -= 7
            elif item[0] == "cols":
                c.setFont(font, 10)
                left = [ln for para in item[1] for ln in _wrap(para, 44) + [""]]
                right = [ln for para in item[2] for ln in _wrap(para, 44) + [""]]
                for i in range(max(len(left), len(right))):
                    # Across both columns line by line, as some producers write them.
                    if i < len(left) and left[i]:
                        c.drawString(60, y, left[i])
                    if i < len(right) and right[i]:
                        c.drawString(w / 2 + 15, y, right[i])
                    y -= 13
        if header:
            c.setFont(font, 9)
            c.drawCentredString(w / 2, 30, str(number))
        c.showPage()
    c.save()
    return path


# --- the small thesis of the tests -------------------------------------------------------------

PLANTED_SCHEDULE = (
    "The schedule mattered more than any architectural change. Warming up the spatial transformer "
    "on its own for several epochs before the joint phase made the alignment score collapse: the "
    "localisation network drifted towards degenerate scalings that the segmentation decoder then "
    "learned to ignore. Training both branches jointly from the first epoch avoided this drift."
)
RARE_ACRONYM = "QZTV"
PLANTED_ACRONYM = (
    f"An auxiliary {RARE_ACRONYM} penalty compares neighbouring layers' toolpath renders and is "
    "weighted by the printed height of each layer; it was kept small in all reported runs."
)
TWO_COLUMN_LEFT = (
    "The left column describes the camera rig: a monochrome sensor mounted above the build plate "
    "records each finished layer under diffuse ring lighting, so that glossy filament does not "
    "saturate the image."
)
TWO_COLUMN_RIGHT = (
    "The right column describes the slicer settings: layer height of two tenths of a millimetre, "
    "perimeters printed before infill, and a travel speed high enough to leave stringing visible "
    "as a defect class."
)

FILLER = [
    "Printed parts were photographed after every layer and the images were stored with the slicer output.",
    "The dataset spans several filament colours, nozzle diameters and printers of the same family.",
    "Each experiment was repeated with three seeds, and the mean is reported with its spread.",
    "Validation images were never used for model selection beyond the fixed schedule described here.",
    "All models were implemented in PyTorch and trained on a single consumer graphics card.",
    "Inference runs at interactive rates, which allows closed-loop correction during printing.",
]


def _filler(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(n))


def thesis_pages(seed: int = 0) -> list[list[Item]]:
    """About 8 pages. Planted facts are at known pages and sections (see the constants)."""
    rng = random.Random(seed)
    return [
        [  # page 1
            ("h", "Abstract"),
            ("p", "This dissertation presents GG-Net, a network that aligns a rendering of the G-code toolpath "
                  "with a camera image of the printed layer and segments defects such as under-extrusion, "
                  "stringing and warping. " + _filler(rng, 3)),
            ("h", "Chapter 1 Introduction"),
            ("p", "Additive manufacturing lacks in-situ quality control. Fused filament printers deposit a "
                  "bead along a planned path, but nothing checks that the bead landed where it was planned. "
                  "Defect seg-|mentation of the top layer, guided by the planned toolpath, closes that gap. "
                  + _filler(rng, 3)),
        ],
        [  # page 2
            ("h", "1.1 Motivation"),
            ("p", "Operators today inspect prints by eye, which does not scale to print farms. An automatic "
                  "inspection must cope with changing lighting, filament colours and camera poses. " + _filler(rng, 4)),
            ("h", "1.2 Contributions"),
            ("p", "We contribute a G-code-guided segmentation network, a synthetic data generator, and an "
                  "alignment metric called PBQC that measures how well the warped toolpath matches the "
                  "printed material. " + _filler(rng, 3)),
        ],
        [  # page 3
            ("h", "Chapter 2 Method"),
            ("h", "2.1 Spatial transformer"),
            ("p", "A localisation network regresses the parameters of a homography that maps the toolpath "
                  "rendering into the camera frame. The rotation range is bounded and the scale is limited "
                  "so that the warp stays close to the identity at initialisation. " + _filler(rng, 3)),
            ("h", "2.2 Segmentation decoder"),
            ("p", "The segmentation network is a U-Net whose encoder receives the camera image and the warped "
                  "rendering as separate streams fused by attention gates at every scale. " + _filler(rng, 3)),
        ],
        [  # page 4
            ("h", "2.3 Loss functions"),
            ("p", "The alignment loss is a Dice overlap between the warped rendering and the printed-material "
                  "mask; the segmentation loss combines binary cross-entropy and Dice. " + PLANTED_ACRONYM
                  + " " + _filler(rng, 3)),
            ("h", "3.3.4 Training schedule"),
            ("p", PLANTED_SCHEDULE),
            ("p", _filler(rng, 4)),
        ],
        [  # page 5
            ("h", "3.4 Data augmentation"),
            ("p", "Random rotations of the camera image by up to ten degrees taught the network to tolerate a "
                  "slightly tilted camera mount. Rotation augmentation was applied to both streams together."),
            ("p", "Random rotations beyond fifteen degrees, however, produced image corners without content, "
                  "and the network learned to segment these empty corners as defects. Augmenting with rotations "
                  "therefore needs padding by reflection."),
            ("p", "A third experiment combined random rotations with random scaling of the rendering; rotated "
                  "and scaled training pairs lowered the Dice score on the validation split slightly."),
        ],
        [  # page 6
            ("h", "3.5 Colour augmentation"),
            ("p", "Colour jitter of hue and saturation made the model independent of the filament colour. "
                  + _filler(rng, 2)),
            ("p", "Finally, test-time augmentation with small random rotations of the camera image and averaging "
                  "of the predicted masks gave a small but consistent gain in defect recall."),
        ],
        [  # page 7: two columns
            ("h", "4.1 Experimental setup"),
            ("cols", [TWO_COLUMN_LEFT], [TWO_COLUMN_RIGHT]),
            ("p", "Both the e\ufb03cient rig and the slicer pro\ufb01les are listed in the appendix. " + _filler(rng, 2)),
        ],
        [  # page 8
            ("h", "Chapter 5 Conclusion"),
            ("p", "G-code guidance turns defect segmentation from a pure vision problem into a comparison with "
                  "the plan. Future work should learn the rendering itself. " + _filler(rng, 3)),
            ("h", "References"),
            ("p", "[1] Jaderberg et al. Spatial transformer networks. NeurIPS 2015. [2] Ronneberger et al. U-Net."),
        ],
    ]


def write_thesis(path: Path, seed: int = 0) -> Path:
    return write_pdf(path, thesis_pages(seed))


# --- long generated theses for the benchmark ---------------------------------------------------

_TOPICS = [
    "spatial transformer", "localisation network", "toolpath rendering", "segmentation decoder",
    "attention gate", "learning rate", "weight decay", "cosine schedule", "Dice loss", "focal loss",
    "camera calibration", "lighting", "filament colour", "under-extrusion", "stringing", "warping",
    "layer height", "nozzle temperature", "data augmentation", "homography", "PBQC", "validation split",
]
_VERBS = ["improves", "degrades", "stabilises", "depends on", "interacts with", "is sensitive to", "dominates", "regularises"]
_TAILS = [
    "when the batch size is small", "in the first epochs", "on dark filament", "under strong rotations",
    "for thin walls", "at high print speed", "after the joint phase begins", "on the validation split",
    "when the rendering is blurred", "with mixed precision", "for every seed we tried", "on the largest printer",
]


def long_thesis_pages(n_pages: int, seed: int = 0, words_per_page: int = 380) -> list[list[Item]]:
    rng = random.Random(seed)
    pages: list[list[Item]] = []
    chapter, section = 0, 0
    for number in range(n_pages):
        items: list[Item] = []
        if number % 12 == 0:
            chapter += 1
            section = 0
            items.append(("h", f"Chapter {chapter} {rng.choice(_TOPICS).capitalize()}"))
        if number % 3 == 0:
            section += 1
            items.append(("h", f"{chapter}.{section} {rng.choice(_TOPICS).capitalize()} and {rng.choice(_TOPICS)}"))
        words = 0
        while words < words_per_page:
            sentences = [
                f"The {rng.choice(_TOPICS)} {rng.choice(_VERBS)} the {rng.choice(_TOPICS)} {rng.choice(_TAILS)}."
                for _ in range(rng.randint(3, 6))
            ]
            para = " ".join(sentences)
            words += len(para.split())
            items.append(("p", para))
        pages.append(items)
    return pages
