"""The dataset loader: reading a generated dataset, the GT theta, the render cache, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import default_collate

from gg_research.ggnet.dataset import GGDataset, batch_loader
from gg_research.errors import GGError
from gg_research.ggnet.errors import DatasetError
from gg_research.ggnet.gcode import parse_gcode
from gg_research.ggnet.manifest import Sample, read_manifest, split_fingerprint
from gg_research.ggnet.render import frame_for, render_layer
from gg_research.ggnet.sample_files import validate_dataset
from gg_research.ggnet.warp import render_to_camera_theta, resize_scale, warp_to_camera

torch.set_num_threads(1)


def _rows(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def _write_rows(root: Path, rows: list[dict]) -> None:
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def broken(synth_dataset: Path, tmp_path: Path) -> Path:
    """A private copy of the session dataset, free to break."""
    return Path(shutil.copytree(synth_dataset, tmp_path / "ds"))


def _dice(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = (a > 0.5).float(), (b > 0.5).float()
    return 2 * (a * b).sum((1, 2, 3)) / (a.sum((1, 2, 3)) + b.sum((1, 2, 3))).clamp_min(1)


def test_read_manifest_gives_resolved_samples(synth_dataset: Path) -> None:
    samples = read_manifest(synth_dataset)
    assert len(samples) == 16 and all(isinstance(s, Sample) for s in samples)
    s = samples[0]
    assert s.line == 1 and s.id == "synth_00000"
    assert s.image == synth_dataset / "images" / "synth_00000.png" and s.image.is_file()
    assert s.gcode is not None and s.gcode.is_file() and s.render is None
    assert s.gcode_to_image.shape == (3, 3) and s.material_mask is not None
    assert [x.line for x in samples] == list(range(1, 17))
    assert [(x.id, x.line) for x in validate_dataset(synth_dataset)] == [(x.id, x.line) for x in samples]


@pytest.mark.parametrize("size", [48, 64])
def test_loader_items_shapes_ranges_and_split_sizes(synth_dataset: Path, size: int) -> None:
    expected = {"train": 11, "val": 3, "test": 2}
    for split, n in expected.items():
        data = GGDataset(synth_dataset, split, size)
        assert len(data) == n
    item = data[0]
    assert set(item) == {"camera", "render", "mask", "theta", "has_theta", "material", "has_material", "id"}
    for key, channels in (("camera", 3), ("render", 1), ("mask", 1), ("material", 1)):
        t = item[key]
        assert t.dtype == torch.float32 and t.shape == (channels, size, size), key
        assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0, key
    assert set(torch.unique(item["mask"]).tolist()) <= {0.0, 1.0}
    assert float(item["camera"].std()) > 0.05
    assert item["theta"].dtype == torch.float32 and item["theta"].shape == (3, 3)
    assert item["has_theta"].dtype == torch.bool and bool(item["has_theta"])
    assert bool(item["has_material"])
    assert isinstance(item["id"], str) and item["id"] in {r["id"] for r in _rows(synth_dataset)}
    # The loader's mask is the manifest's mask, resized.
    row = next(r for r in _rows(synth_dataset) if r["id"] == item["id"])
    full = np.asarray(Image.open(synth_dataset / row["mask"])) > 0
    assert bool(full.any()) == bool(item["mask"].any())
    # The render is the renderer's image of the manifest's layer, framed on the layer (8 % margin).
    top = parse_gcode(synth_dataset / row["gcode"]).layer(row["layer"])
    expected = render_layer(top, size, bead_width_mm=0.45, margin=0.08).image
    assert torch.equal((item["render"][0] * 255).round().to(torch.uint8), torch.from_numpy(expected))
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=2)))
    assert batch["camera"].shape == (2, 3, size, size) and batch["has_theta"].shape == (2,)


@pytest.mark.parametrize("size", [40, 64, 96])
def test_gt_theta_warps_the_render_onto_the_material(synth_dataset: Path, size: int) -> None:
    data = GGDataset(synth_dataset, "train", size)
    items = [data[i] for i in range(len(data))]
    render = torch.stack([x["render"] for x in items])
    material = torch.stack([x["material"] for x in items])
    theta = torch.stack([x["theta"] for x in items])
    gt = _dice(warp_to_camera(render, theta), material)
    identity = _dice(warp_to_camera(render, torch.eye(3).expand_as(theta)), material)
    assert float(gt.min()) > 0.8 and float(gt.mean()) > 0.92
    assert float(identity.mean()) < float(gt.mean()) - 0.06
    assert int((gt > identity).sum()) == len(items)


def test_theta_accounts_for_resizing() -> None:
    # A camera that sees exactly the render frame at 128 px, loaded at 64: theta is the identity.
    bounds = (10.0, 20.0, 50.0, 45.0)
    g = frame_for(bounds, 128)
    theta = render_to_camera_theta(g, (128, 128), frame_for(bounds, 64), 64)
    np.testing.assert_allclose(theta, np.eye(3), atol=1e-9)
    # Resizing maps pixel areas: the image edge -0.5 stays -0.5, the centre stays the centre.
    s = resize_scale((100, 200), (50, 50))
    np.testing.assert_allclose(s @ [-0.5, -0.5, 1], [-0.5, -0.5, 1])
    np.testing.assert_allclose(s @ [99.5, 49.5, 1], [24.5, 24.5, 1])


def test_render_cache_is_reused_across_instances(synth_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = GGDataset(synth_dataset, "val", 64, cache_dir=cache)
    files = sorted(cache.glob("render-*.npz"))
    assert len(files) == 3

    from gg_research.ggnet import render as ggnet_render

    def no_render(*a, **k):
        raise AssertionError("rendered again despite the cache")

    monkeypatch.setattr(ggnet_render, "render_layer", no_render)
    second = GGDataset(synth_dataset, "val", 64, cache_dir=cache)
    assert torch.equal(first.render, second.render) and torch.equal(first.theta, second.theta)
    # Other parameters are other cache entries.
    with pytest.raises(AssertionError, match="rendered again"):
        GGDataset(synth_dataset, "val", 64, cache_dir=cache, bead_width_mm=0.6)


def test_damaged_cache_file_is_rendered_again(synth_dataset: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = GGDataset(synth_dataset, "test", 32, cache_dir=cache)
    for f in cache.glob("render-*.npz"):
        f.write_bytes(b"not a zip")
    again = GGDataset(synth_dataset, "test", 32, cache_dir=cache)
    assert torch.equal(first.render, again.render)


def test_split_fingerprint_tracks_that_split_only(broken: Path) -> None:
    val = split_fingerprint(broken, "val")
    train = split_fingerprint(broken, "train")
    assert val == split_fingerprint(broken, "val") and len(val) == 64 and val != train
    rows = _rows(broken)
    train_image = broken / next(r for r in rows if r["split"] == "train")["image"]
    train_image.write_bytes(train_image.read_bytes() + b"\0")
    assert split_fingerprint(broken, "val") == val and split_fingerprint(broken, "train") != train
    val_gcode = broken / next(r for r in rows if r["split"] == "val")["gcode"]
    val_gcode.write_text(val_gcode.read_text() + "; edited\n")
    assert split_fingerprint(broken, "val") != val


def test_prerendered_renders_are_accepted(broken: Path) -> None:
    rows = _rows(broken)
    (broken / "renders").mkdir()
    for r in rows:
        layer_png = broken / "renders" / f"{r['id']}.png"
        Image.fromarray(np.full((80, 80), 255, np.uint8)).save(layer_png)
        r["render"] = f"renders/{r['id']}.png"
        del r["gcode"], r["layer"]
    _write_rows(broken, rows)
    data = GGDataset(broken, "val", 32)
    item = data[0]
    assert item["render"].shape == (1, 32, 32) and float(item["render"].min()) == 1.0
    assert not bool(item["has_theta"]) and torch.equal(item["theta"], torch.eye(3))


def test_checking_and_fingerprinting_a_dataset_does_not_import_torch(synth_dataset: Path) -> None:
    # `data check` and the loop's integrity fingerprint must start fast, without torch.
    code = (
        "import sys; from pathlib import Path; root = Path(sys.argv[1])\n"
        "import gg_research.ggnet.synth, gg_research.commands.data\n"
        "from gg_research.ggnet.sample_files import validate_dataset\n"
        "from gg_research.ggnet.manifest import split_fingerprint\n"
        "from gg_research.ggnet.render_cache import render_key\n"
        "from gg_research.harness.integrity import code_fingerprint\n"
        "validate_dataset(root); split_fingerprint(root, 'val'); render_key(b'G1', 0, 8, 0.4); code_fingerprint()\n"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code, str(synth_dataset)], check=True, timeout=60)


# --- bad input: each kind is one DatasetError naming the manifest line and the sample ------------


def _break_missing_image(root: Path, rows: list[dict]) -> tuple[int, str]:
    (root / rows[2]["image"]).unlink()
    return 3, rows[2]["id"]


def _break_mask_size(root: Path, rows: list[dict]) -> tuple[int, str]:
    Image.fromarray(np.zeros((50, 64), np.uint8)).save(root / rows[4]["mask"])
    return 5, rows[4]["id"]


def _break_mask_not_binary(root: Path, rows: list[dict]) -> tuple[int, str]:
    Image.open(root / rows[1]["image"]).convert("L").save(root / rows[1]["mask"])
    return 2, rows[1]["id"]


def _break_unreadable_image(root: Path, rows: list[dict]) -> tuple[int, str]:
    (root / rows[6]["image"]).write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return 7, rows[6]["id"]


def _break_not_json(root: Path, rows: list[dict]) -> tuple[int, str | None]:
    lines = (root / "manifest.jsonl").read_text().splitlines()
    lines[5] = lines[5][:-3]  # a truncated line
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return 6, None


def _break_missing_key(root: Path, rows: list[dict]) -> tuple[int, str]:
    del rows[3]["mask"]
    _write_rows(root, rows)
    return 4, rows[3]["id"]


def _break_layer_without_extrusion(root: Path, rows: list[dict]) -> tuple[int, str]:
    rows[8]["layer"] = 42
    _write_rows(root, rows)
    return 9, rows[8]["id"]


def _break_gcode_without_extrusion(root: Path, rows: list[dict]) -> tuple[int, str]:
    (root / rows[9]["gcode"]).write_text("G21\nG90\nM83\nG92 E0\n;LAYER:0\nG1 Z0.2\nG0 X10 Y10\nG0 X20 Y20\n")
    return 10, rows[9]["id"]


def _break_duplicate_id(root: Path, rows: list[dict]) -> tuple[int, str]:
    rows[7]["id"] = rows[1]["id"]
    _write_rows(root, rows)
    return 8, rows[1]["id"]


def _break_escaping_path(root: Path, rows: list[dict]) -> tuple[int, str]:
    rows[5]["image"] = "../outside.png"
    _write_rows(root, rows)
    return 6, rows[5]["id"]


def _break_absolute_path(root: Path, rows: list[dict]) -> tuple[int, str]:
    rows[0]["gcode"] = str((root / rows[0]["gcode"]).resolve())
    _write_rows(root, rows)
    return 1, rows[0]["id"]


def _break_split(root: Path, rows: list[dict]) -> tuple[int, str]:
    rows[10]["split"] = "validation"
    _write_rows(root, rows)
    return 11, rows[10]["id"]


def _break_homography(root: Path, rows: list[dict]) -> tuple[int, str]:
    rows[11]["gcode_to_image"] = [[1, 0, 0], [0, 1, 0]]
    _write_rows(root, rows)
    return 12, rows[11]["id"]


def _break_missing_gcode_file(root: Path, rows: list[dict]) -> tuple[int, str]:
    (root / rows[12]["gcode"]).unlink()
    return 13, rows[12]["id"]


BREAKERS = {
    "missing image": (_break_missing_image, "does not exist"),
    "mask of another size": (_break_mask_size, "64x50 but the image is 64x64"),
    "mask not binary": (_break_mask_not_binary, "not a binary mask"),
    "unreadable image": (_break_unreadable_image, "cannot read image"),
    "not JSON": (_break_not_json, "not valid JSON"),
    "missing key": (_break_missing_key, "missing key 'mask'"),
    "layer with no extrusion": (_break_layer_without_extrusion, "layer 42 .* has no extrusion"),
    "G-code with no extrusion": (_break_gcode_without_extrusion, "no extrusion"),
    "duplicate id": (_break_duplicate_id, r"duplicate id \(first on line 2\)"),
    "path escaping the folder": (_break_escaping_path, "escapes the dataset folder"),
    "absolute path": (_break_absolute_path, "escapes the dataset folder"),
    "bad split": (_break_split, "'split' must be one of"),
    "bad homography shape": (_break_homography, r"must be 3x3, got shape \[2, 3\]"),
    "missing G-code file": (_break_missing_gcode_file, "G-code file .* does not exist"),
}


@pytest.mark.parametrize("kind", list(BREAKERS))
def test_bad_input_is_one_line_naming_line_and_sample(broken: Path, kind: str) -> None:
    breaker, pattern = BREAKERS[kind]
    line, sid = breaker(broken, _rows(broken))
    with pytest.raises(DatasetError, match=pattern) as err:
        validate_dataset(broken)
    message = str(err.value)
    assert "\n" not in message
    assert f"manifest.jsonl: line {line}" in message
    if sid is not None:
        assert f"(sample {sid!r})" in message
    assert isinstance(err.value, GGError)
    # The loader refuses the same way when that sample is in the split it loads.
    split = next((r.get("split") for r in _rows_safe(broken) if r.get("id") == sid), "train")
    with pytest.raises(DatasetError, match=f"line {line}"):
        GGDataset(broken, split if split in ("train", "val", "test") else "train", 32)


def _rows_safe(root: Path) -> list[dict]:
    out = []
    for line in (root / "manifest.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            out.append({})
    return out


def test_missing_manifest_and_empty_split(tmp_path: Path, broken: Path) -> None:
    with pytest.raises(DatasetError, match="no manifest.jsonl"):
        read_manifest(tmp_path)
    with pytest.raises(DatasetError, match="no such dataset folder"):
        read_manifest(tmp_path / "nope")
    rows = [r for r in _rows(broken) if r["split"] != "test"]
    _write_rows(broken, rows)
    with pytest.raises(DatasetError, match="no samples in split 'test'"):
        GGDataset(broken, "test", 32)
    with pytest.raises(DatasetError, match="unknown split"):
        GGDataset(broken, "dev", 32)
    (broken / "manifest.jsonl").write_text("\n\n")
    with pytest.raises(DatasetError, match="no samples"):
        read_manifest(broken)


def test_zero_one_masks_are_accepted(broken: Path) -> None:
    rows = _rows(broken)
    path = broken / rows[0]["mask"]
    m = np.asarray(Image.open(path))
    Image.fromarray((m > 0).astype(np.uint8)).save(path)  # a 0/1 mask, as many tools write
    data = GGDataset(broken, rows[0]["split"], 64)
    i = data.ids.index(rows[0]["id"])
    assert torch.equal(data[i]["mask"][0].bool(), torch.from_numpy(m > 0))


def test_split_is_stored_as_uint8_and_batches_are_float(synth_dataset: Path) -> None:
    data = GGDataset(synth_dataset, "train", 32)
    for key in ("camera", "render", "mask", "material"):
        assert getattr(data, key).dtype == torch.uint8, key
    assert set(torch.unique(data.mask).tolist()) <= {0, 1}
    # A batch from batch_loader (stacked uint8, converted once) equals the batch of float items.
    batch = next(iter(batch_loader(data, 4, shuffle=False)))
    expected = default_collate([data[i] for i in range(4)])
    assert set(batch) == set(expected) and batch["id"] == expected["id"]
    for key in ("camera", "render", "mask", "material", "theta", "has_theta", "has_material"):
        assert batch[key].dtype == expected[key].dtype and torch.equal(batch[key], expected[key]), key
    for key in ("camera", "render", "mask", "material"):
        assert batch[key].dtype == torch.float32 and 0.0 <= float(batch[key].min()) <= float(batch[key].max()) <= 1.0
    assert float(batch["camera"].max()) > 0.5  # scaled to [0, 1], not left at 0..255 nor squashed
    assert torch.equal(batch["mask"], data.mask[:4].float())
    assert torch.equal(batch["camera"], data.camera[:4].float() / 255)


def test_batch_loader_over_other_datasets_is_a_plain_loader(synth_dataset: Path) -> None:
    items = [GGDataset(synth_dataset, "val", 32)[i] for i in range(3)]
    batch = next(iter(batch_loader(items, 3, shuffle=False)))
    assert torch.equal(batch["camera"], torch.stack([it["camera"] for it in items]))


def test_dataset_pickles_for_worker_processes(synth_dataset: Path) -> None:
    import pickle

    data = GGDataset(synth_dataset, "test", 32)
    clone = pickle.loads(pickle.dumps(data))
    assert type(clone) is GGDataset and len(clone) == len(data)
    assert torch.equal(clone[1]["camera"], data[1]["camera"]) and clone[1]["id"] == data[1]["id"]


def test_a_cache_entry_whose_content_was_changed_is_rendered_again(synth_dataset: Path, tmp_path: Path) -> None:
    import numpy as np

    cache = tmp_path / "cache"
    honest = GGDataset(synth_dataset, "val", 64, cache_dir=cache)
    for entry in cache.glob("render-*.npz"):  # poisoned: blank renders, the old digest kept or not
        with np.load(entry) as z:
            fields = dict(z)
        fields["image"] = np.zeros_like(fields["image"])
        np.savez(entry, **fields)
    again = GGDataset(synth_dataset, "val", 64, cache_dir=cache)
    assert torch.equal(again.render, honest.render) and honest.render.any()
