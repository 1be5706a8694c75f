"""The dataset format: `manifest.jsonl` read and checked line by line (no data file opened).

A dataset folder holds `manifest.jsonl` (one sample a line) and the files it names, by paths
relative to the folder: the camera image, the defect mask, the G-code (or a pre-rendered
`render` PNG), optionally the printed-material mask. Every problem is a one-line DatasetError
naming the manifest, the line and the sample id, so a user can fix their own data.
"""

from __future__ import annotations

import copy
import hashlib
import json
import posixpath
import threading
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np

from gg_research.ggnet.dataset_guards import check_inside, check_manifest_inside
from gg_research.ggnet.errors import DatasetError

MANIFEST = "manifest.jsonl"
SPLITS = ("train", "val", "test")
REQUIRED_KEYS = ("id", "image", "mask", "split")
PATH_KEYS = ("image", "mask", "gcode", "render", "material_mask")


@dataclass
class Sample:
    """One manifest line, with paths resolved against the dataset folder."""

    id: str
    image: Path
    mask: Path
    gcode: Path | None
    render: Path | None
    layer: int
    split: str
    gcode_to_image: np.ndarray | None
    material_mask: Path | None
    line: int


class Where:
    """Formats `manifest.jsonl: line N (sample 'id'): problem` messages."""

    def __init__(self, manifest: Path, line: int, sid: str | None = None):
        self.manifest, self.line, self.sid = manifest, line, sid

    @classmethod
    def of(cls, root: Path, s: Sample) -> Where:
        return cls(Path(root) / MANIFEST, s.line, s.id)

    def error(self, problem: str) -> DatasetError:
        who = f" (sample {self.sid!r})" if self.sid is not None else ""
        return DatasetError(f"{self.manifest}: line {self.line}{who}: {problem}")


def _dataset_path(root: Path, value: Any, key: str, where: Where) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"'{key}' must be a non-empty relative path, got {value!r}")
    rel = posixpath.normpath(value.replace("\\", "/"))
    if rel.startswith(("/", "../")) or rel == ".." or PureWindowsPath(value).drive:
        raise where.error(f"'{key}' path {value!r} escapes the dataset folder (use a path inside {root})")
    check_inside(root, root / rel, key, where)
    return root / rel


def _homography(value: Any, where: Where) -> np.ndarray | None:
    if value is None:
        return None
    try:
        h = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise where.error("'gcode_to_image' must be a 3x3 list of numbers") from None
    if h.shape != (3, 3):
        raise where.error(f"'gcode_to_image' must be 3x3, got shape {list(h.shape)}")
    if not np.isfinite(h).all() or abs(np.linalg.det(h)) < 1e-12:
        raise where.error("'gcode_to_image' must be finite and invertible")
    return h


def _parse_line(root: Path, text: str, where: Where) -> Sample:
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise where.error(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(rec, dict):
        raise where.error(f"a line must be a JSON object, got {type(rec).__name__}")
    sid = rec.get("id")
    if not isinstance(sid, str) or not sid:
        raise where.error(f"'id' must be a non-empty string, got {sid!r}")
    where.sid = sid
    for key in REQUIRED_KEYS:
        if key not in rec:
            raise where.error(f"missing key '{key}'")
    if rec.get("gcode") is None and rec.get("render") is None:
        raise where.error("needs 'gcode' (with 'layer') or a pre-rendered 'render'")
    split = rec["split"]
    if split not in SPLITS:
        raise where.error(f"'split' must be one of {', '.join(SPLITS)}, got {split!r}")
    if rec.get("gcode") is not None and "layer" not in rec:
        raise where.error("missing key 'layer' (the layer index of the G-code that the image shows)")
    layer = rec.get("layer", 0)
    if not isinstance(layer, int) or isinstance(layer, bool) or layer < 0:
        raise where.error(f"'layer' must be a whole number >= 0, got {layer!r}")
    paths = {k: (_dataset_path(root, rec[k], k, where) if rec.get(k) is not None else None) for k in PATH_KEYS}
    return Sample(
        id=sid,
        image=paths["image"],
        mask=paths["mask"],
        gcode=paths["gcode"],
        render=paths["render"],
        layer=layer,
        split=split,
        gcode_to_image=_homography(rec.get("gcode_to_image"), where),
        material_mask=paths["material_mask"],
        line=where.line,
    )


def _manifest_lines(root: Path) -> list[tuple[int, str]]:
    root = Path(root)
    manifest = root / MANIFEST
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    if not manifest.is_file():
        raise DatasetError(f"{root}: no {MANIFEST} (a dataset folder holds manifest.jsonl, images/, masks/, gcode/)")
    check_manifest_inside(root, manifest)
    try:
        text = manifest.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DatasetError(f"{manifest}: not UTF-8 text") from None
    return [(i, line) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]


_PARSED: dict[tuple, list[Sample]] = {}  # a few manifests' parsed samples, by their file's identity
_PARSED_LOCK = threading.Lock()


def _manifest_key(root: Path) -> tuple | None:
    """What identifies a manifest's content without reading it: its file's device, inode, size and
    change times (ctime cannot be set back), and the folder it is read from."""
    try:
        st = (root / MANIFEST).stat()
    except OSError:
        return None
    return (str(root.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_manifest(root: Path) -> list[Sample]:
    """Parse and check every line of `root/manifest.jsonl` (no files opened). A manifest parsed
    before and unchanged since is not parsed again: a run reads it about ten times."""
    root = Path(root)
    key = _manifest_key(root)
    with _PARSED_LOCK:
        cached = _PARSED.get(key) if key is not None else None
    if cached is not None:
        return [copy.copy(s) for s in cached]
    samples = _parse_manifest(root)
    if key is not None:
        with _PARSED_LOCK:
            if len(_PARSED) >= 8:
                _PARSED.pop(next(iter(_PARSED)))
            _PARSED[key] = [copy.copy(s) for s in samples]
    return samples


def _parse_manifest(root: Path) -> list[Sample]:
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for number, text in _manifest_lines(root):
        where = Where(root / MANIFEST, number)
        s = _parse_line(root, text, where)
        if s.id in seen:
            raise where.error(f"duplicate id (first on line {seen[s.id]})")
        seen[s.id] = number
        samples.append(s)
    if not samples:
        raise DatasetError(f"{root / MANIFEST}: no samples (the manifest is empty)")
    return samples


def split_samples(root: Path, split: str) -> list[Sample]:
    """The samples of one split, in manifest order; a DatasetError when there are none."""
    chosen = [s for s in read_manifest(root) if s.split == split]
    if not chosen:
        raise DatasetError(f"{Path(root) / MANIFEST}: no samples in split {split!r}")
    return chosen


def split_fingerprint(root: Path, split: str) -> str:
    """sha256 over a split's manifest lines and the bytes of every file they name."""
    root = Path(root)
    lines = dict(_manifest_lines(root))
    chosen = split_samples(root, split)
    h = hashlib.sha256()
    for s in chosen:
        h.update(lines[s.line].strip().encode("utf-8") + b"\n")
        for path in (s.image, s.mask, s.gcode, s.render, s.material_mask):
            if path is None:
                continue
            try:
                h.update(hashlib.sha256(path.read_bytes()).digest())
            except OSError:
                raise Where.of(root, s).error(f"cannot read {path}") from None
    return h.hexdigest()
