"""The synthetic dataset: determinism, format, ground-truth transform, defects and caching."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gg_research.ggnet import synth
from gg_research.ggnet.errors import DatasetError
from gg_research.ggnet.gcode import parse_gcode
from gg_research.ggnet.synth import ensure_synthetic, generate, split_plan
from gg_research.ggnet.synth_shapes import infill_lines, inset_ring


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _rows(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def _load(root: Path, rel: str) -> np.ndarray:
    with Image.open(root / rel) as im:
        return np.asarray(im)


def test_same_seed_same_bytes_other_seed_other_bytes(synth_dataset: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", n=16, size=64, seed=7)
    assert _digests(again) == _digests(synth_dataset)
    other = generate(tmp_path / "other", n=16, size=64, seed=8)
    a, b = _digests(synth_dataset), _digests(other)
    assert a.keys() == b.keys()
    changed = [k for k in a if a[k] != b[k] and k.startswith("images/")]
    assert len(changed) == 16


def test_manifest_format_and_files(synth_dataset: Path) -> None:
    rows = _rows(synth_dataset)
    assert len(rows) == 16
    assert len({r["id"] for r in rows}) == 16
    splits = [r["split"] for r in rows]
    # 70/20/10 of 16, rounded: 11 / 3 / 2
    assert (splits.count("train"), splits.count("val"), splits.count("test")) == (11, 3, 2)
    for r in rows:
        for key in ("id", "image", "mask", "gcode", "layer", "split", "gcode_to_image", "material_mask"):
            assert key in r, key
        image = Image.open(synth_dataset / r["image"])
        mask = _load(synth_dataset, r["mask"])
        assert image.mode == "RGB" and image.size == (64, 64)
        assert mask.shape == (64, 64) and set(np.unique(mask)) <= {0, 255}
        assert _load(synth_dataset, r["material_mask"]).shape == (64, 64)
        assert np.asarray(r["gcode_to_image"]).shape == (3, 3)
        text = (synth_dataset / r["gcode"]).read_text()
        for word in ("G21", "G90", "G92 E0", "G0 X"):
            assert word in text
        assert ("M83" in text) or ("M82" in text)
        assert (";LAYER:" in text) or (";LAYER_CHANGE" in text)
        program = parse_gcode(synth_dataset / r["gcode"])
        assert 3 <= len(program.layers) <= 5
        assert r["layer"] == program.layers[-1].index  # the sample shows the top layer


def test_both_extrusion_modes_and_marker_styles_occur(synth_dataset: Path) -> None:
    texts = [(synth_dataset / r["gcode"]).read_text() for r in _rows(synth_dataset)]
    assert any("M83" in t for t in texts) and any("M82" in t for t in texts)
    assert any(";LAYER:" in t for t in texts) and any(";LAYER_CHANGE" in t for t in texts)


def _share_on_material(mids: np.ndarray, material: np.ndarray, h: np.ndarray) -> float:
    """The share of the segments' midpoints, mapped by h into the 64 px image, that land on material."""
    p = mids @ h.T
    col, row = np.round(p[:, 0] / p[:, 2]).astype(int), np.round(p[:, 1] / p[:, 2]).astype(int)
    inside = (col >= 0) & (col < 64) & (row >= 0) & (row < 64)
    return float(np.mean(np.where(inside, material[row.clip(0, 63), col.clip(0, 63)], False)))


def test_gt_transform_puts_the_toolpath_on_the_printed_material(synth_dataset: Path) -> None:
    on_gt, on_wrong = [], []
    for r in _rows(synth_dataset):
        top = parse_gcode(synth_dataset / r["gcode"]).layer(r["layer"])
        material = _load(synth_dataset, r["material_mask"]) > 0
        mids = np.concatenate([(top.segments[:, :2] + top.segments[:, 2:]) / 2, np.ones((len(top.segments), 1))], 1)
        g = np.asarray(r["gcode_to_image"])
        on_gt.append(_share_on_material(mids, material, g))
        shifted = np.array([[1, 0, 12], [0, 1, -9], [0, 0, 1.0]]) @ g  # the same map, off by ~15 px
        on_wrong.append(_share_on_material(mids, material, shifted))
    assert min(on_gt) > 0.85 and np.mean(on_gt) > 0.93
    assert np.mean(on_wrong) < np.mean(on_gt) - 0.2


def test_defects_present_exactly_where_claimed(synth_dataset: Path) -> None:
    rows = _rows(synth_dataset)
    for r in rows:
        mask = _load(synth_dataset, r["mask"])
        assert bool(r["defects"]) == bool(mask.any()), r["id"]
        assert set(r["defects"]) <= {"gap", "blob", "stringing", "hole"}
    for split in ("train", "val", "test"):
        members = [r for r in rows if r["split"] == split]
        clean = sum(not r["defects"] for r in members)
        assert clean == round(0.2 * len(members))


@pytest.mark.parametrize("size", [64, 128])
def test_image_changes_where_the_mask_says(size: int) -> None:
    from scipy import ndimage

    from gg_research.ggnet.synth_camera import DEFECT_KINDS, shoot
    from gg_research.ggnet.synth_gcode import write_gcode
    from gg_research.ggnet.synth_shapes import layer_paths, random_outline

    seen = set()
    for k in range(6):
        rng = np.random.default_rng([size, k])
        outline = random_outline(rng)
        paths = layer_paths(outline, 0.45, np.pi / 4)
        text = write_gcode([paths], bead=0.45, layer_height=0.2, relative_e=True, cura_markers=False, offset=(100, 100), title="t")
        top = parse_gcode(text=text).layers[-1]
        shot = shoot(top, size, bead=0.45, infill_angle=np.pi / 4, rng=rng, n_defects=3, keep_clean=True)
        assert shot.defects, "three defects asked, none planted"
        seen.update(d["kind"] for d in shot.defects)
        mask = shot.mask > 0
        diff = np.abs(shot.image.astype(int) - shot.clean_image.astype(int)).max(axis=2)
        # Visible: the defect pixels differ clearly from the defect-free shot ...
        assert np.mean(diff[mask]) > 20
        assert np.mean(diff[mask] > 10) > 0.7
        # ... and nothing changes away from the mask (beyond the blur's reach).
        far = ~ndimage.binary_dilation(mask, iterations=5)
        assert diff[far].max() == 0
    assert seen == set(DEFECT_KINDS)


def test_generate_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not an empty folder"):
        generate(tmp_path, n=4, size=64, seed=0)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_ensure_synthetic_caches_by_parameters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ensure_synthetic(tmp_path, n=8, size=64, seed=3)
    assert first.parent == tmp_path and f"v{synth.GENERATOR_VERSION}" in first.name
    assert all(s in first.name for s in ("n8", "s64", "seed3"))
    assert len(_rows(first)) == 8

    def boom(*a, **k):
        raise AssertionError("regenerated a cached dataset")

    monkeypatch.setattr(synth, "generate", boom)
    assert ensure_synthetic(tmp_path, n=8, size=64, seed=3) == first
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temp folder left behind


def test_killed_generation_leaves_no_half_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = synth.generate

    def dies_midway(out, n, size, seed, preset="easy", progress=None, secret=b""):
        real(out, 2, size, seed, preset=preset)  # some files written ...
        raise KeyboardInterrupt  # ... then the process is interrupted

    monkeypatch.setattr(synth, "generate", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic(tmp_path, n=6, size=64, seed=0)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(synth, "generate", real)
    done = ensure_synthetic(tmp_path, n=6, size=64, seed=0)
    assert len(_rows(done)) == 6


def test_split_plan_is_deterministic_and_proportional() -> None:
    splits, defective = split_plan(400, seed=0)
    assert (splits.count("train"), splits.count("val"), splits.count("test")) == (280, 80, 40)
    assert sum(not d for d in defective) == 80
    assert split_plan(400, seed=0) == (splits, defective)
    assert split_plan(400, seed=1)[0] != splits


def test_inset_and_infill_geometry() -> None:
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10.0]])  # counter-clockwise
    np.testing.assert_allclose(inset_ring(square, 1.0), [[1, 1], [9, 1], [9, 9], [1, 9]], atol=1e-9)
    hole = np.array([[4, 4], [4, 6], [6, 6], [6, 4.0]])  # clockwise: material is outside it
    np.testing.assert_allclose(inset_ring(hole, 0.5), [[3.5, 3.5], [3.5, 6.5], [6.5, 6.5], [6.5, 3.5]], atol=1e-9)
    lines = infill_lines([square, hole], spacing=0.5, angle=0.0)
    length = sum(float(np.linalg.norm(seg[1] - seg[0])) for seg in lines)
    # Solid infill: total line length x spacing is the area (100 - 4 mm²).
    assert abs(length * 0.5 - 96.0) < 2.0
    assert all(not (4 < seg[0, 1] < 6 and 4 < (seg[0, 0] + seg[1, 0]) / 2 < 6) for seg in lines)  # none in the hole


def test_generation_needs_no_scratch_outside_its_folder(tmp_path: Path) -> None:
    before = set(os.listdir(tmp_path))
    out = generate(tmp_path / "ds", n=2, size=32, seed=1)
    assert set(os.listdir(tmp_path)) - before == {"ds"}
    assert sorted(p.name for p in out.iterdir()) == ["gcode", "images", "manifest.jsonl", "masks", "material", "synth.json"]


def test_temp_folder_of_a_killed_generation_is_cleaned_later(tmp_path: Path) -> None:
    name = synth.synthetic_name(4, 32, 0)
    stale = tmp_path / f".{name}.tmp-dead"
    (stale / "images").mkdir(parents=True)
    live = tmp_path / f".{name}.tmp-live"
    (live / "images").mkdir(parents=True)
    old = 0.0  # 1970: untouched for a long time
    for p in (stale / "images", stale):
        os.utime(p, (old, old))
    ensure_synthetic(tmp_path, n=4, size=32, seed=0)
    assert not stale.exists()
    assert live.exists()  # recently written: maybe another process still generating


def test_a_workspace_secret_seals_the_scored_splits_and_leaves_the_training_split(tmp_path: Path) -> None:
    """The same parameters give the same set where the secret is known; without it the validation
    and test labels cannot be regenerated, while the training split stays as it was."""
    import hashlib

    def digest(root: Path, split: str) -> str:
        rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]
        h = hashlib.sha256()
        for row in sorted((r for r in rows if r["split"] == split), key=lambda r: r["id"]):
            h.update((root / row["mask"]).read_bytes() + (root / row["image"]).read_bytes())
        return h.hexdigest()

    plain = synth.generate(tmp_path / "plain", n=10, size=32, seed=3)
    a = synth.generate(tmp_path / "a", n=10, size=32, seed=3, secret=b"k" * 32)
    again = synth.generate(tmp_path / "again", n=10, size=32, seed=3, secret=b"k" * 32)
    other = synth.generate(tmp_path / "other", n=10, size=32, seed=3, secret=b"q" * 32)
    assert digest(a, "train") == digest(plain, "train") == digest(other, "train")
    for split in ("val", "test"):
        assert digest(a, split) == digest(again, split)
        assert digest(a, split) != digest(plain, split) and digest(a, split) != digest(other, split)
    assert synth.synthetic_name(10, 32, 3, secret=b"k" * 32) != synth.synthetic_name(10, 32, 3)
