"""Writers of the bad inputs ingest must refuse, one file each, with the expected reason."""

from __future__ import annotations

import random
from pathlib import Path


def encrypted_pdf(path: Path, user_password: str = "secret") -> Path:
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    enc = pdfencrypt.StandardEncryption(user_password, ownerPassword="owner-secret", canPrint=1)
    c = canvas.Canvas(str(path), encrypt=enc)
    c.drawString(72, 720, "Confidential chapter about the spatial transformer and its warm-up.")
    c.showPage()
    c.save()
    return path


def image_only_pdf(path: Path) -> Path:
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    from PIL import Image

    img = Image.new("L", (64, 64), 200)
    c = canvas.Canvas(str(path))
    c.drawImage(ImageReader(img), 72, 500, 300, 300)
    c.rect(72, 100, 200, 100, fill=1)
    c.showPage()
    c.save()
    return path


def truncated_pdf(path: Path, good: Path) -> Path:
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def corrupt_pdf(path: Path) -> Path:
    rng = random.Random(3)
    path.write_bytes(b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(4000)) + b"\n%%EOF\n")
    return path


def not_a_pdf(path: Path) -> Path:
    path.write_text("<html><body>This is a web page saved with a .pdf name</body></html>")
    return path


def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


# name -> (writer taking (tmp_dir, good_pdf) -> path, words expected in the one-line reason)
BAD_INPUTS = {
    "not_a_pdf": (lambda d, g: not_a_pdf(d / "page.pdf"), "not a PDF"),
    "truncated": (lambda d, g: truncated_pdf(d / "cut.pdf", g), "truncated PDF"),
    "corrupt": (lambda d, g: corrupt_pdf(d / "corrupt.pdf"), "corrupt PDF"),
    "encrypted": (lambda d, g: encrypted_pdf(d / "locked.pdf"), "encrypted PDF"),
    "image_only": (lambda d, g: image_only_pdf(d / "scan.pdf"), "no text layer"),
    "empty": (lambda d, g: empty_file(d / "empty.pdf"), "empty file"),
    "missing": (lambda d, g: d / "does-not-exist.pdf", "no such file"),
    "binary_notes": (lambda d, g: (d / "notes.txt").write_bytes(b"\x00\x01\x02binary") and d / "notes.txt", "binary file"),
    "unsupported": (lambda d, g: (d / "thesis.docx").write_bytes(b"PK\x03\x04zip") and d / "thesis.docx", "unsupported file type"),
}
