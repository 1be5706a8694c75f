"""Dataset guards: symlinks leaving the folder, masks that are not binary, images too large to
decode and missing splits are each one DatasetError naming the manifest line and the sample."""

from __future__ import annotations

import json
import shutil
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gg_research.errors import GGError
from gg_research.ggnet.dataset import GGDataset
from gg_research.ggnet.manifest import read_manifest
from gg_research.ggnet.sample_files import validate_dataset
from gg_research.ggnet.dataset_guards import MAX_IMAGE_PIXELS, check_splits
from gg_research.ggnet.errors import DatasetError


@pytest.fixture
def ds(synth_dataset: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(synth_dataset, tmp_path / "ds"))


def _rows(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def _refused(root: Path, line: int, pattern: str) -> str:
    rows = _rows(root)
    with pytest.raises(DatasetError, match=pattern) as err:
        validate_dataset(root)
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, GGError)
    assert f"manifest.jsonl: line {line} (sample {rows[line - 1]['id']!r})" in message, message
    return message


def _move_out(root: Path, rel: str, outside: Path) -> Path:
    """Move a dataset file outside the folder and leave a symlink to it in its place."""
    target = outside / Path(rel).name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(root / rel), target)
    (root / rel).symlink_to(target)
    return target


# --- symlinks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["image", "mask", "gcode", "material_mask"])
def test_a_symlink_leaving_the_folder_is_refused(ds: Path, tmp_path: Path, key: str) -> None:
    rows = _rows(ds)
    _move_out(ds, rows[4][key], tmp_path / "outside")
    message = _refused(ds, 5, "leads outside the dataset folder")
    assert f"'{key}'" in message and str(tmp_path / "outside") in message
    # The loader reads the manifest the same way: training never opens the file either.
    with pytest.raises(DatasetError, match="line 5 .*leads outside"):
        read_manifest(ds)


def test_a_symlinked_folder_or_manifest_leaving_the_dataset_is_refused(ds: Path, tmp_path: Path) -> None:
    shutil.move(str(ds / "gcode"), tmp_path / "gcode_elsewhere")
    (ds / "gcode").symlink_to(tmp_path / "gcode_elsewhere", target_is_directory=True)
    _refused(ds, 1, "'gcode' .* leads outside")

    other = Path(shutil.copytree(ds, tmp_path / "other", symlinks=True))
    (other / "gcode").unlink()
    shutil.copytree(tmp_path / "gcode_elsewhere", other / "gcode")
    outside_manifest = tmp_path / "manifest.jsonl"
    shutil.move(str(other / "manifest.jsonl"), outside_manifest)
    (other / "manifest.jsonl").symlink_to(outside_manifest)
    with pytest.raises(DatasetError, match=r"manifest.jsonl: leads outside the dataset folder") as err:
        validate_dataset(other)
    assert "\n" not in str(err.value)


def test_symlinks_inside_the_folder_and_a_symlinked_folder_itself_are_fine(ds: Path, tmp_path: Path) -> None:
    rows = _rows(ds)
    mask = ds / rows[2]["mask"]
    (ds / "shared").mkdir()
    shutil.move(str(mask), ds / "shared" / "m.png")
    mask.symlink_to(Path("..") / "shared" / "m.png")
    (tmp_path / "link").symlink_to(ds, target_is_directory=True)
    assert len(validate_dataset(tmp_path / "link")) == len(rows)


# --- masks ------------------------------------------------------------------------------------


def _write_mask(root: Path, rel: str, values: tuple[int, ...]) -> None:
    m = np.asarray(Image.open(root / rel)) > 0
    out = np.where(m, values[-1], values[0]).astype(np.uint8)
    if len(values) > 2:
        out[0, : len(values)] = values  # a few anti-aliased edge pixels
    Image.fromarray(out).save(root / rel)


@pytest.mark.parametrize(
    ("key", "values", "shown"),
    [
        ("mask", (0, 3), r"2 values \(0, 3\)"),  # thresholded at half it would mark no defect at all
        ("mask", (0, 128, 255), r"3 values \(0, 128, 255\)"),
        ("material_mask", (0, 2), r"2 values \(0, 2\)"),
    ],
)
def test_non_binary_masks_are_refused(ds: Path, key: str, values: tuple[int, ...], shown: str) -> None:
    rows = _rows(ds)
    _write_mask(ds, rows[6][key], values)
    _refused(ds, 7, f"not a binary mask: its pixels take {shown}")
    with pytest.raises(DatasetError, match="line 7 .*not a binary mask"):
        GGDataset(ds, rows[6]["split"], 32)


# --- oversized images ---------------------------------------------------------------------------


def _claim_size(path: Path, width: int, height: int) -> None:
    """Rewrite a PNG's header to declare width x height (the pixel data stays 64x64)."""
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("side", "pattern"),
    [
        (9_000, r"too large to load: 9000x9000 \(81 Mpx\)"),  # over ours, under PIL's own warning
        (10_000, "too large to load: past PIL's decompression-bomb limit"),  # PIL warns
        (50_000, "too large to load: past PIL's decompression-bomb limit"),  # PIL raises
    ],
)
def test_an_oversized_image_is_one_line_and_never_decoded(ds: Path, side: int, pattern: str) -> None:
    rows = _rows(ds)
    _claim_size(ds / rows[3]["image"], side, side)
    tracemalloc.start()
    try:
        message = _refused(ds, 4, pattern)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f"at most {MAX_IMAGE_PIXELS // 1_000_000} Mpx" in message
    assert peak < 20_000_000  # a decoded 9000x9000 RGB image alone would be 243 MB


# --- splits -------------------------------------------------------------------------------------


def test_a_dataset_needs_train_and_val_splits(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.jsonl"
    check_splits(manifest, ["train", "val", "train"])
    with pytest.raises(DatasetError, match=r"manifest.jsonl: no samples in split 'val'"):
        check_splits(manifest, ["train", "test"])
    with pytest.raises(DatasetError, match="no samples in split 'train'"):
        check_splits(manifest, ["val"])


def test_a_manifest_changed_after_it_was_read_is_read_again(tmp_path: Path) -> None:
    """Parsed manifests are kept while unchanged (a run reads one about ten times); an edit, even
    one that keeps the size and the modification time, is seen at the next read."""
    import json
    import os

    from gg_research.ggnet.manifest import read_manifest

    def write(split: str) -> None:
        lines = [{"id": f"s{i}", "image": f"images/s{i}.png", "mask": f"masks/s{i}.png", "render": f"r/s{i}.png",
                  "split": split} for i in range(2)]
        (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))

    write("val")
    first = read_manifest(tmp_path)
    assert [s.split for s in first] == ["val", "val"]
    first[0].split = "mutated"  # a caller's change to its copy does not reach the next reader
    assert read_manifest(tmp_path)[0].split == "val"
    stat = (tmp_path / "manifest.jsonl").stat()
    write("tes")  # same length as "val"
    os.utime(tmp_path / "manifest.jsonl", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(Exception, match="split"):
        read_manifest(tmp_path)  # "tes" is no split: the edit was read, not the cached parse
