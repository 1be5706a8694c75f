"""`gg-research data synth|check` through real subprocesses."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gg_research.cli", "data", *args],
        capture_output=True, text=True, timeout=120,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("cli") / "ds"
    proc = _cli("synth", "--out", str(out), "--n", "12", "--size", "64", "--seed", "5")
    return out, proc


def test_synth_writes_a_dataset_and_prints_folder_and_splits(generated) -> None:
    out, proc = generated
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout
    # 70/20/10 of 12: 8 / 2 / 2
    assert "train: 8 samples" in proc.stdout and "val: 2 samples" in proc.stdout and "test: 2 samples" in proc.stdout
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and all((out / r["image"]).is_file() for r in rows)


def test_check_prints_counts_and_defect_share(generated) -> None:
    out, _ = generated
    proc = _cli("check", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    with_defects = sum(bool(r["defects"]) for r in rows)
    assert f"total: 12 samples, defect share {with_defects / 12:.0%}" in proc.stdout
    assert "train: 8 samples" in proc.stdout and proc.stdout.strip().endswith(f"{out}: ok")


def test_check_of_a_broken_dataset_is_one_line_exit_2(generated, tmp_path: Path) -> None:
    out, _ = generated
    broken = Path(shutil.copytree(out, tmp_path / "broken"))
    rows = [json.loads(line) for line in (broken / "manifest.jsonl").read_text().splitlines()]
    (broken / rows[3]["image"]).unlink()
    _one_line_error(_cli("check", str(broken)), "line 4", rows[3]["id"], "does not exist")

    lines = (broken / "manifest.jsonl").read_text().splitlines()
    lines[1] = "{not json"
    (broken / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    _one_line_error(_cli("check", str(broken)), "manifest.jsonl: line 2", "not valid JSON")


def test_check_of_a_missing_folder_and_synth_into_a_used_folder(generated, tmp_path: Path) -> None:
    out, _ = generated
    _one_line_error(_cli("check", str(tmp_path / "nowhere")), "no such dataset folder")
    before = sorted(p.name for p in out.rglob("*"))
    _one_line_error(_cli("synth", "--out", str(out), "--n", "4"), "not an empty folder")
    assert sorted(p.name for p in out.rglob("*")) == before  # nothing written over


def test_bad_arguments_exit_2() -> None:
    proc = _cli("synth", "--out", "x", "--n", "0")
    assert proc.returncode == 2 and "--n" in proc.stderr
    proc = _cli("synth", "--out", "x", "--size", "8")
    assert proc.returncode == 2 and "--size" in proc.stderr
    assert _cli().returncode == 2


def test_synth_preset_is_recorded_and_unknown_preset_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "real"
    proc = _cli("synth", "--out", str(out), "--n", "3", "--size", "48", "--preset", "realistic")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "synth.json").read_text())["preset"] == "realistic"
    _one_line_error(_cli("synth", "--out", str(tmp_path / "bad"), "--n", "3", "--preset", "photo"),
                    "--preset", "'photo'", "easy, realistic, hard")
    assert not (tmp_path / "bad").exists()


def test_sheet_writes_a_readable_png_of_images_masks_and_renders(generated, tmp_path: Path) -> None:
    from PIL import Image

    out, _ = generated
    png = tmp_path / "sheets" / "easy.png"
    proc = _cli("sheet", str(out), "--out", str(png), "--n", "3", "--tile", "64")
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {png} (3 samples)" in proc.stdout
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width == 3 * 64 and im.height > 3 * 64
        sheet = np.asarray(im.convert("RGB")).astype(int)
    # The middle column tints defects red, the right one the G-code green: both colours occur.
    mid, right = sheet[:, 64:128], sheet[:, 128:]
    assert ((mid[..., 0] > 200) & (mid[..., 1] < 80)).any()
    assert ((right[..., 1] > 200) & (right[..., 0] < 80)).any()


def test_sheet_of_a_bad_folder_or_target_is_one_line(generated, tmp_path: Path) -> None:
    out, _ = generated
    _one_line_error(_cli("sheet", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s.png")), "no such dataset folder")
    _one_line_error(_cli("sheet", str(out), "--out", str(tmp_path / "s.jpg")), "PNG")
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "s.jpg").exists()


def test_check_refuses_escaping_symlinks_non_binary_masks_huge_images_and_no_val(generated, tmp_path: Path) -> None:
    import struct
    import zlib

    from PIL import Image

    out, _ = generated
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]

    def fresh(name: str) -> Path:
        return Path(shutil.copytree(out, tmp_path / name))

    ds = fresh("symlink")
    secret = tmp_path / "secret.png"
    shutil.move(str(ds / rows[2]["image"]), secret)
    (ds / rows[2]["image"]).symlink_to(secret)
    _one_line_error(_cli("check", str(ds)), "line 3", rows[2]["id"], "leads outside the dataset folder")

    ds = fresh("mask03")
    mask = np.asarray(Image.open(ds / rows[5]["mask"]))
    Image.fromarray(np.where(mask > 0, 3, 0).astype(np.uint8)).save(ds / rows[5]["mask"])
    _one_line_error(_cli("check", str(ds)), "line 6", rows[5]["id"], "not a binary mask", "(0, 3)")

    ds = fresh("huge")
    png = bytearray((ds / rows[7]["image"]).read_bytes())
    png[16:24] = struct.pack(">II", 30_000, 30_000)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    (ds / rows[7]["image"]).write_bytes(bytes(png))
    _one_line_error(_cli("check", str(ds)), "line 8", rows[7]["id"], "too large to load")

    ds = fresh("noval")
    kept = [line for line, r in zip((out / "manifest.jsonl").read_text().splitlines(), rows) if r["split"] != "val"]
    (ds / "manifest.jsonl").write_text("\n".join(kept) + "\n")
    proc = _cli("check", str(ds))
    _one_line_error(proc, "manifest.jsonl", "no samples in split 'val'")
    assert proc.stdout == ""  # no per-split summary for a dataset that cannot be used
