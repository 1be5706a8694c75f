"""`gg-research gcode info|render` through a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BLOCK = "block_4x4x2_headerless.gcode"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gg_research.cli", "gcode", *args],
        capture_output=True, text=True, timeout=60, cwd=cwd,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_info_json_lists_every_layer(gcode_fixtures_dir: Path) -> None:
    from gg_research.ggnet.gcode import parse_gcode

    path = gcode_fixtures_dir / BLOCK
    proc = _cli("info", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    program = parse_gcode(path)
    assert len(rows) == len(program.layers) == 10
    assert all(set(r) == {"index", "z", "extruded_e", "path_length", "bounds"} for r in rows)
    assert rows[0]["z"] is None  # the fragment's first layer has no known height
    for row, layer in zip(rows[1:], program.layers[1:]):
        assert row["z"] == pytest.approx(layer.z) and row["bounds"] == pytest.approx(list(layer.bounds))
    text = path.read_text()
    stated = float(text.split("; filament used [mm] = ")[1].split()[0])
    assert sum(r["extruded_e"] for r in rows) == pytest.approx(stated, abs=0.1)


def test_info_table_shows_layers_and_totals(gcode_fixtures_dir: Path) -> None:
    proc = _cli("info", str(gcode_fixtures_dir / BLOCK))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "10 layers" in out and "total" in out and "12.673" in out
    assert "2.000" in out  # the top layer's z


def test_render_writes_the_png(gcode_fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "layer.png"
    proc = _cli("render", str(gcode_fixtures_dir / BLOCK), "--layer", "4", "--out", str(out), "--size", "96",
                "--bead-width", "0.4")
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout
    image = np.asarray(Image.open(out))
    assert image.shape == (96, 96) and image.dtype == np.uint8
    assert image.max() == 255 and 0.1 < (image > 127).mean() < 0.9


def test_render_errors_are_one_line_and_write_nothing(gcode_fixtures_dir: Path, tmp_path: Path) -> None:
    block = str(gcode_fixtures_dir / BLOCK)
    out = tmp_path / "x.png"
    _one_line_error(_cli("render", block, "--layer", "10", "--out", str(out)), block, "no layer 10", "0..9")
    _one_line_error(_cli("render", block, "--layer", "1", "--out", str(tmp_path / "no" / "x.png")), "does not exist")
    _one_line_error(_cli("render", block, "--layer", "1", "--out", str(tmp_path / "x.jpg")), ".png")
    assert list(tmp_path.iterdir()) == []


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.gcode"
    _one_line_error(_cli("info", str(missing)), str(missing), "no such")
    binary = tmp_path / "blob.gcode"
    binary.write_bytes(bytes(range(256)) * 8)
    _one_line_error(_cli("info", str(binary)), str(binary), "binary")
    travel = tmp_path / "travel.gcode"
    travel.write_text("G28\nG0 X10 Y10 Z5\n")
    _one_line_error(_cli("render", str(travel), "--layer", "0", "--out", str(tmp_path / "t.png")), str(travel),
                    "no extrusion")
    assert not (tmp_path / "t.png").exists()


def test_argument_errors_exit_2(tmp_path: Path) -> None:
    proc = _cli("render", "x.gcode", "--layer", "0", "--out", "x.png", "--size", "0")
    assert proc.returncode == 2 and "--size" in proc.stderr
    proc = _cli("render", "x.gcode", "--out", "x.png")
    assert proc.returncode == 2 and "--layer" in proc.stderr


def _strict_json(text: str):
    """json.loads that refuses the NaN/Infinity words Python writes by default."""
    def refuse(word: str):
        raise AssertionError(f"not strict JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def test_info_json_is_strict_json(gcode_fixtures_dir: Path) -> None:
    proc = _cli("info", str(gcode_fixtures_dir / BLOCK), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = _strict_json(proc.stdout)
    assert rows[0]["z"] is None and all(r["z"] is not None for r in rows[1:])


def test_jsonout_maps_non_finite_to_null_and_never_writes_nan() -> None:
    from gg_research.commands.jsonout import dumps

    text = dumps({"z": float("nan"), "rows": [1.5, float("inf"), (float("-inf"), 2)], "ok": "x"})
    assert _strict_json(text) == {"z": None, "rows": [1.5, None, [None, 2]], "ok": "x"}


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("G1 Xinf Y5 E1", "malformed number 'XINF'"),  # once written to --json as Infinity
        ("G1 X1e2 Y0 E1", "ambiguous"),
        ("G2 X1 Y0 R-100000000 E1", "more than the 10,000 allowed per arc"),
        ("G1 X10 Q5 E1", "not Q5"),
    ],
)
def test_hostile_gcode_is_one_line_naming_file_and_line_and_writes_nothing(tmp_path: Path, line: str, needle: str) -> None:
    bad = tmp_path / "bad.gcode"
    bad.write_text(f"M83\nG1 Z0.2\nG0 X0 Y0\n{line}\nG1 X10 Y0 E1\n")
    proc = _cli("info", str(bad), "--json")
    _one_line_error(proc, f"{bad}:4: ", needle)
    assert proc.stdout == ""
    out = tmp_path / "layer.png"
    _one_line_error(_cli("render", str(bad), "--layer", "0", "--out", str(out)), f"{bad}:4: ", needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.gcode"]
