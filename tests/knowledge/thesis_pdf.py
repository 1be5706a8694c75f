"""Writes "thesis" PDFs for the tests and the benchmark with reportlab: numbered sections, a running
header and page-number footer on every page, words hyphenated across line ends (marked `|` in
the source text), ligature glyphs, and optionally a two-column page written line by line across
both columns (the order that breaks naive extraction)."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path
from collections.abc import Sequence

HEADER = "J. Doe - GG-Net: G-code-guided defect segmentation - Dissertation"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# A page is a list of items: ("h", heading), ("p", paragraph), ("cols", [left paras], [right paras]).
Item = tuple[str, str] | tuple[str, Sequence[str], Sequence[str]]


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


def write_pdf(
    path: Path, pages: Sequence[Sequence[Item]], title: str = "GG-Net dissertation", header: bool = True,
    owner_password: str | None = None,
) -> Path:
    """`owner_password`: encrypted with an empty user password (opens without one, other bytes)."""
    from reportlab.lib import pdfencrypt
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _font()
    enc = pdfencrypt.StandardEncryption("", ownerPassword=owner_password, canPrint=1) if owner_password else None
    c = canvas.Canvas(str(path), pagesize=A4, encrypt=enc)
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


# --- a thesis laid out like real ones, with planted facts (tests and bench_retrieval) ------------
#
# Chapters open with "Chapter N" on a line of its own and the title on the next; a table of
# contents with dotted leaders and a list of tables come first; sections have unnumbered
# sub-headings; a results table; a two-column page that pypdf already reads in order, with a
# sentence running from one column into the other and a full-width caption below; compounds
# hyphenated at line ends; superscripts; a wrapped bibliography with numbered entries; lettered
# appendices. Each fact is (question in other words, answer text the passage must hold, sentence).

Fact = tuple[str, str, str]

FLOW_FACTS: dict[str, Fact] = {
    "fail_rate": ("How often do prints fail in a farm of desktop printers?", "one print in nine",
                  "Roughly one print in nine fails on a typical desktop printer farm, which wastes filament and machine hours."),
    "manual": ("How long did a human need to check each layer image?", "forty seconds",
               "Manual inspection by operators took about forty seconds per layer photograph."),
    "synthetic": ("How large is the synthetic dataset produced by the generator?", "12,000",
                  "The synthetic generator renders 12,000 labelled layer images from sliced models."),
    "idea": ("What is the central idea behind the approach?", "what the slicer planned",
             "The method rests on one idea: compare what was printed against what the slicer planned."),
    "params": ("How many warp parameters does the alignment module regress?", "eight homography parameters",
               "The localisation network predicts eight homography parameters from a pooled feature map."),
    "rotation": ("What limit is placed on the warp's rotation?", "12 degrees",
                 "The rotation range of the warp is bounded to plus or minus 12 degrees."),
    "stages": ("How many upsampling stages does the decoder have?", "four upsampling stages",
               "The decoder uses four upsampling stages with attention gates at every scale."),
    "crop": ("What crop size was used for the input images?", "284\u00b2",
             "Images are cropped to 284\u00b2 pixels and flipped horizontally with probability one half."),
    "optimizer": ("Which optimiser trained the network and with what decay?", "AdamW",
                  "We used AdamW with a weight decay of 0.05 and betas of 0.9 and 0.999."),
    "loss": ("What objective was minimised during training?", "soft Dice with equal weights",
             "The loss sums binary cross-entropy and soft Dice with equal weights."),
    "batch": ("How many samples per mini-batch?", "16 image pairs",
              "A batch of 16 image pairs fitted into the memory of the graphics card."),
    "lr": ("Which learning rate gave the highest Dice in the grid search?", "3e-4", ""),  # in the table
    "hardware": ("What GPU hardware were the experiments run on?", "RTX 3090",
                 "All experiments ran on a single RTX 3090 card with 24 GB of memory."),
    "testset": ("How many real images are in the held-out test set?", "1,450",
                "The real test set holds 1,450 photographs from three printers."),
    "pascal": ("Did initialising the encoder from PASCAL VOC weights help?", "gave no gain",
               "An encoder pretrained on PAS-|CAL VOC was compared with ImageNet weights; PASCAL weights gave no gain."),
    "baseline": ("How well did the segmentation model without G-code input do?", "0.71",
                 "A plain U-Net without toolpath guidance reached a Dice of 0.71."),
    "attention": ("What happens when the attention fusion is taken out?", "4.2 Dice points",
                  "Removing the attention gates cost 4.2 Dice points."),
    "warmup": ("What went wrong without ramping up the step size at the start?", "two of three seeds",
               "Skipping the learning-rate warm-up made the first epochs diverge in two of three seeds."),
    "runtime": ("How fast is a prediction for one layer?", "23 ms",
                "Inference takes 23 ms per layer image at full resolution."),
    "height": ("How high above the bed was the camera placed?", "35 cm above the build plate", ""),  # columns
    "tilt": ("At what angle was the camera tilted?", "tilted by five degrees", ""),  # columns
    "light": ("What illuminated the print during capture?", "48 diodes", ""),  # columns
    "stringing": ("Which type of defect was detected worst?", "recall of only 0.58",
                  "Stringing was the hardest defect class with a recall of only 0.58."),
    "underext": ("How reliably was under-extrusion found?", "0.91",
                 "Under-extrusion was found with a recall of 0.91 on the real test set."),
    "glossy": ("Why did shiny material cause false alarms?", "specular highlights",
               "Glossy silver filament produced specular highlights that were segmented as defects."),
    "thin": ("Which geometry did the model overlook?", "two extrusion widths",
             "Walls thinner than two extrusion widths were often missed entirely."),
    "gain": ("By how much did G-code guidance improve segmentation overall?", "from 0.71 to 0.84",
             "Toolpath guidance raised the Dice score from 0.71 to 0.84 on real prints."),
    "future": ("What should replace the rasteriser in future?", "learned renderer",
               "A learned renderer could replace the hand-written toolpath rasteriser."),
    "bound": ("What is the best achievable IoU given noisy labels?", "bounded by 0.93",
              "With perfect alignment the intersection over union is bounded by 0.93 because of label noise."),
    "printer2": ("What score was reached on the other printer?", "0.79",
                 "On the second printer of the study the Dice score was 0.79."),
    "nozzle": ("At what temperature was the hot end kept?", "215 \u00b0C",
               "The nozzle temperature was held at 215 \u00b0C for all PLA prints."),
    "slicer": ("Which slicing software generated the G-code?", "Cura 5.2",
               "The slicer was Cura 5.2 with a layer height of 0.2 mm."),
}

# A second wording of every question, written after the search's settings and its glossary of
# synonyms were fixed: the benchmark's check that they were not fitted to the first wording.
FLOW_QUESTIONS_HELD_OUT: dict[str, str] = {
    "fail_rate": "What share of jobs on a print farm end in failure?",
    "manual": "How slow was checking the layers by eye?",
    "synthetic": "How many generated training images were there?",
    "idea": "What comparison is the method built on?",
    "params": "How many numbers describe the predicted transformation?",
    "rotation": "How far can the predicted transform rotate the render?",
    "stages": "How deep is the decoder path, in resolution steps?",
    "crop": "What resolution were training patches cut to?",
    "optimizer": "What optimisation algorithm and regularisation were used?",
    "loss": "What was the training criterion?",
    "batch": "How many examples went into each gradient step?",
    "lr": "Which step size worked best in the sweep?",
    "hardware": "Which graphics card did the training run on?",
    "testset": "How big is the real evaluation set?",
    "pascal": "Was pretraining on PASCAL better than ImageNet?",
    "baseline": "What Dice did the network reach without the toolpath?",
    "attention": "How much does removing the attention hurt?",
    "warmup": "Why is a warmup of the learning rate needed?",
    "runtime": "What is the inference latency per image?",
    "height": "How far was the camera from the print?",
    "tilt": "What was the camera's viewing angle?",
    "light": "What lighting was used for the photos?",
    "stringing": "Which defect class had the lowest recall?",
    "underext": "How well was missing material detected?",
    "glossy": "What caused false positives on reflective filament?",
    "thin": "Where did the model fail on fine structures?",
    "gain": "What improvement did guidance by the toolpath bring?",
    "future": "What could the rasteriser be replaced with?",
    "bound": "What is the upper limit on IoU due to annotation errors?",
    "printer2": "How did the model do on the second machine?",
    "nozzle": "What extrusion temperature was used for PLA?",
    "slicer": "Which program sliced the models?",
}
assert FLOW_QUESTIONS_HELD_OUT.keys() == FLOW_FACTS.keys()

LR_TABLE = ("Table 2.1: Grid search over the learning rate.", ["Learning rate", "Epochs", "Batch size", "Dice"],
            [["1e-3", "30", "16", "0.781"], ["3e-4", "30", "16", "0.836"], ["1e-4", "30", "16", "0.812"]])
COLUMN_LEFT = ("The capture rig is simple and cheap to copy for other printers of the same family. Lighting "
               "came from a diffuse LED ring of 48 diodes, bright enough for short exposures. The camera "
               "was mounted 35 cm above the build plate")
COLUMN_RIGHT = ("and tilted by five degrees towards the door, so that the nozzle never hides the fresh layer. "
                "Images were taken when the head parked at the end of each layer, after the part cooling fan "
                "had stopped, so that no vibration blurred them.")
COLUMN_SENTENCE = "The camera was mounted 35 cm above the build plate and tilted by five degrees towards the door"
COMPOUND = "pixels-to-pixels"


def _fill(rng: random.Random, n: int) -> str:
    return " ".join(
        f"The {rng.choice(_TOPICS)} {rng.choice(_VERBS)} the {rng.choice(_TOPICS)} {rng.choice(_TAILS)}." for _ in range(n)
    )


def flow_thesis_items(filler: int = 1, seed: int = 0) -> list[tuple]:
    """The items of the laid-out thesis; `filler` paragraphs of distractor text per section."""
    rng = random.Random(seed)
    f = FLOW_FACTS

    def para(*keys: str) -> tuple:
        return ("p", " ".join([f[k][2] for k in keys] + [_fill(rng, 3)]))

    def fill() -> list[tuple]:
        return [("p", _fill(rng, 5)) for _ in range(filler)]

    contents = [
        "1 Introduction . . . . . . . . . . . . . . . . . . 3", "1.1 Motivation . . . . . . . . . . . . . . . . 3",
        "1.2 Contributions . . . . . . . . . . . . . . . 4", "2 Method . . . . . . . . . . . . . . . . . . . . 5",
        "2.1 Spatial transformer . . . . . . . . . . . . 5", "2.2 Segmentation decoder . . . . . . . . . . . 6",
        "2.3 Training . . . . . . . . . . . . . . . . . . 6", "3 Experiments . . . . . . . . . . . . . . . . . 8",
        "3.1 Dataset . . . . . . . . . . . . . . . . . . 8", "4 Results . . . . . . . . . . . . . . . . . . . 10",
        "5 Conclusion . . . . . . . . . . . . . . . . . 12", "A Upper Bounds on IU . . . . . . . . . . . . 14",
    ]
    return [
        ("lines", ["GG-Net: G-code-guided defect segmentation", "A dissertation by J. Doe"]),
        ("h", "Abstract"),
        ("p", "This dissertation segments print defects by comparing camera images with the planned toolpath. " + _fill(rng, 2)),
        ("page",),
        ("h", "Contents"), ("lines", contents),
        ("h", "List of Tables"), ("lines", ["2.1 Grid search over the learning rate . . . . . . . . 7"]),
        ("page",),
        ("h", "Chapter 1"), ("h", "Introduction"), para("fail_rate"), *fill(),
        ("h", "1.1 Motivation"), para("manual"), *fill(),
        ("h", "1.2 Contributions"), para("synthetic"),
        ("lines", ["1 A guided segmentation network", "2 A synthetic data generator", "3 An alignment metric"]),
        *fill(),
        ("page",),
        ("h", "Chapter 2"), ("h", "Method"), para("idea"), *fill(),
        ("h", "2.1 Spatial transformer"), para("params", "rotation"), *fill(),
        ("h", "2.2 Segmentation decoder"), para("stages"),
        ("p", f"Like the {COMPOUND.replace('to-', 'to-|')} networks of earlier work, the decoder predicts a mask at "
              "full resolution from the fused encoder features. " + _fill(rng, 2)),
        *fill(),
        ("h", "2.3 Training"), ("p", "This section lists the training settings. " + _fill(rng, 2)),
        ("sub", "Data Transforms"), para("crop"),
        ("sub", "Optimizer"), para("optimizer"),
        ("sub", "Loss Function"), para("loss"),
        ("sub", "Batch Size"), para("batch"),
        ("table", *LR_TABLE),
        ("p", "The grid search fixed every other setting. " + _fill(rng, 2)),
        ("page",),
        ("h", "Chapter 3"), ("h", "Experiments"), para("hardware"), *fill(),
        ("h", "3.1 Dataset"), para("testset", "pascal", "slicer"), *fill(),
        ("h", "3.2 Baselines"), para("baseline"), *fill(), ("p", _fill(rng, 14) + " " + f["nozzle"][2]),
        ("h", "3.3 Ablations"), ("sub", "Without Attention"), para("attention"),
        ("sub", "Without Warm-up"), para("warmup"),
        ("h", "3.4 Runtime"), para("runtime"), *fill(),
        ("page",),
        ("h", "Chapter 4"), ("h", "Results"),
        ("cols2", _fill(rng, 6) + " " + COLUMN_LEFT, COLUMN_RIGHT + " " + _fill(rng, 6),
         "Figure 4.1: The capture rig seen from the front of the printer."),
        ("page",),
        ("h", "4.1 Defect classes"), para("stringing", "underext"), *fill(),
        ("h", "4.2 Failure cases"), ("sub", "Glossy Filament"), para("glossy"),
        ("sub", "Thin Walls"), para("thin"), *fill(),
        ("page",),
        ("h", "Chapter 5"), ("h", "Conclusion"), para("gain"), *fill(),
        ("h", "5.1 Future work"), para("future"),
        ("h", "References"),
        ("lines", [
            "[1] Long, J., Shelhamer, E. and Darrell, T. Fully convolutional networks for semantic",
            "segmentation. In: CVPR, 2015.",
            "[2] Prusa Research. Slicer documentation. Available at: https://help.example.org [Accessed on:",
            "28 November 2021]",
            "9 Long, J., Shelhamer, E., Darrell, T.: Fully convolutional networks",
            "12 Ronneberger, O., Fischer, P., Brox, T.: U-Net",
        ]),
        ("page",),
        ("h", "A. Upper Bounds on IU"), para("bound"), *fill(),
        ("h", "B More Results"), para("printer2"), *fill(),
    ]


def write_flow(path: Path, items: Sequence[tuple], title: str = "GG-Net flow thesis") -> Path:
    """Lay items out top to bottom, breaking pages where they are full (a paragraph may run over)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _font()
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle(title)
    w, h = A4
    state = {"y": 0.0, "page": 0}

    def new_page() -> None:
        if state["page"]:
            c.setFont(font, 9)
            c.drawCentredString(w / 2, 30, str(state["page"]))
            c.showPage()
        state["page"] += 1
        c.setFont(font, 8)
        c.drawString(60, h - 40, HEADER)
        state["y"] = h - 80

    def line(text: str, size: float = 10, x: float = 60, step: float = 13) -> None:
        if state["y"] < 60:
            new_page()
        c.setFont(font, size)
        c.drawString(x, state["y"], text)
        state["y"] -= step

    new_page()
    for item in items:
        kind = item[0]
        if kind == "page":
            if state["y"] < h - 80:
                new_page()
        elif kind == "h":
            if state["y"] < 120:
                new_page()
            state["y"] -= 8
            line(str(item[1]), 13, step=22)
        elif kind == "sub":
            if state["y"] < 100:
                new_page()
            state["y"] -= 4
            line(str(item[1]), 11, step=16)
        elif kind == "p":
            for ln in _wrap(str(item[1]), 92):
                line(ln)
            state["y"] -= 7
        elif kind == "lines":
            for ln in item[1]:
                line(ln)
            state["y"] -= 7
        elif kind == "table":
            caption, header, rows = item[1], item[2], item[3]
            if state["y"] < 60 + 15 * (len(rows) + 3):
                new_page()
            line(caption)
            xs = [60 + 110 * i for i in range(len(header))]
            for row in [header, *rows]:
                for x, cell in zip(xs, row):
                    c.drawString(x, state["y"], cell)
                state["y"] -= 13
            state["y"] -= 7
        elif kind == "cols2":
            left, right, caption = _wrap(item[1], 44), _wrap(item[2], 44), item[3]
            if state["y"] < 60 + 13 * (max(len(left), len(right)) + 3):
                new_page()
            c.setFont(font, 10)
            top = state["y"]
            for i, ln in enumerate(left):  # the left column first, then the right: in reading order
                c.drawString(60, top - 13 * i, ln)
            for i, ln in enumerate(right):
                c.drawString(w / 2 + 15, top - 13 * i, ln)
            state["y"] = top - 13 * max(len(left), len(right)) - 10
            line(caption)
            state["y"] -= 7
    c.setFont(font, 9)
    c.drawCentredString(w / 2, 30, str(state["page"]))
    c.showPage()
    c.save()
    return path
