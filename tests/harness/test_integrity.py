"""The integrity fingerprint: what a score depends on besides train.py, and refusing to compare."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from gg_research.config import Config
from gg_research.harness.errors import NotComparable
from gg_research.harness.integrity import check_comparable, frozen_fingerprint
from tests.conftest import installed_layout


def _config(root: Path, **data) -> Config:
    return Config.model_validate({"data": {"dataset": str(root), "image_size": 64, **data}})


def _first(root: Path, split: str) -> dict:
    for line in (root / "manifest.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["split"] == split:
            return rec
    raise AssertionError(split)


def test_same_inputs_are_comparable(tmp_path: Path, dataset: Path) -> None:
    a = frozen_fingerprint(tmp_path, _config(dataset))
    b = frozen_fingerprint(tmp_path / "elsewhere", _config(dataset))
    assert a == b
    check_comparable(a, b)
    check_comparable({"frozen": a, "pbqc": 0.3}, {"frozen": b, "pbqc": 0.9})  # last_run.json dicts too


def test_a_changed_validation_image_is_detected(tmp_path: Path, dataset: Path) -> None:
    copy = Path(shutil.copytree(dataset, tmp_path / "data"))
    before = frozen_fingerprint(tmp_path, _config(copy))
    img_path = copy / _first(copy, "val")["image"]
    im = Image.open(img_path).convert("RGB")
    im.putpixel((0, 0), tuple(255 - c for c in im.getpixel((0, 0))))
    im.save(img_path)
    after = frozen_fingerprint(tmp_path, _config(copy))
    assert after["val_split"] != before["val_split"]
    assert after["harness_code"] == before["harness_code"] and after["eval_config"] == before["eval_config"]
    with pytest.raises(NotComparable, match=r"val_split"):
        check_comparable(before, after)


def test_a_changed_training_image_keeps_runs_comparable(tmp_path: Path, dataset: Path) -> None:
    copy = Path(shutil.copytree(dataset, tmp_path / "data"))
    before = frozen_fingerprint(tmp_path, _config(copy))
    img_path = copy / _first(copy, "train")["image"]
    Image.open(img_path).convert("RGB").rotate(90).save(img_path)
    check_comparable(before, frozen_fingerprint(tmp_path, _config(copy)))


@pytest.mark.parametrize("change", [{"image_size": 96}, {"bead_width_mm": 0.6}])
def test_evaluation_config_changes_are_detected(tmp_path: Path, dataset: Path, change: dict) -> None:
    a = frozen_fingerprint(tmp_path, _config(dataset))
    b = frozen_fingerprint(tmp_path, _config(dataset, **change))
    with pytest.raises(NotComparable, match="eval_config") as info:
        check_comparable(a, b)
    assert "val_split" not in str(info.value)


def test_budget_and_seed_are_not_frozen_inputs(tmp_path: Path, dataset: Path) -> None:
    cfg = _config(dataset)
    other = cfg.model_copy(deep=True)
    other.run.budget_s, other.run.seed = 17.0, 5
    check_comparable(frozen_fingerprint(tmp_path, cfg), frozen_fingerprint(tmp_path, other))


def test_a_missing_key_counts_as_a_difference() -> None:
    with pytest.raises(NotComparable, match="harness_code"):
        check_comparable({"val_split": "a", "harness_code": "b"}, {"val_split": "a"})


def test_the_frozen_code_covers_what_makes_validation_inputs_and_scores() -> None:
    from gg_research.harness.integrity import source_files

    names = {f"{p.parent.name}/{p.name}" for p in source_files()}
    for required in (
        "ggnet/render.py", "ggnet/gcode.py", "ggnet/render_cache.py", "ggnet/manifest.py",
        "ggnet/sample_files.py", "ggnet/dataset.py", "ggnet/metrics.py", "ggnet/warp.py",
        "ggnet/output.py", "harness/evaluate.py", "harness/child.py", "harness/wire.py",
    ):
        assert required in names, required
    assert not any(n.startswith("templates/") for n in names)  # train.py is the mutable part


def test_every_module_the_child_loads_is_frozen() -> None:
    # What running an experiment actually imports, in a fresh process, must all be fingerprinted.
    code = (
        "import sys, gg_research.harness.child, gg_research.harness.context, gg_research.harness.evaluate\n"
        "import gg_research.ggnet.dataset, gg_research.ggnet.output\n"
        "from gg_research.harness.integrity import source_files\n"
        "frozen = set(map(str, source_files()))\n"
        "loaded = [m.__file__ for n, m in list(sys.modules.items())\n"
        "          if n.startswith(('gg_research.ggnet.', 'gg_research.harness.'))]\n"
        "missing = [f for f in loaded if f and f not in frozen]\n"
        "assert not missing, missing\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _fingerprints(pkgs: Path) -> tuple[str, str]:
    """(code fingerprint, render cache key) computed by a fresh process on the packages in `pkgs`."""
    code = (
        "from gg_research.harness.integrity import code_fingerprint\n"
        "from gg_research.ggnet.render_cache import render_key\n"
        "print(code_fingerprint(), render_key(b'G1 X1 E1', 0, 64, 0.45))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(pkgs)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=pkgs, check=True, timeout=60, capture_output=True, text=True)
    fingerprint, key = out.stdout.split()
    return fingerprint, key


@pytest.mark.slow
def test_editing_the_renderer_changes_the_fingerprint_and_the_render_cache_key(tmp_path: Path) -> None:
    pkgs = installed_layout(tmp_path / "pkgs")
    ggnet = pkgs / "gg_research" / "ggnet"
    base = _fingerprints(pkgs)
    assert base == _fingerprints(pkgs)

    template = ggnet / "templates" / "train.py"  # not frozen: the loop edits its copy
    template.write_text(template.read_text() + "\n# tuned\n")
    assert _fingerprints(pkgs) == base

    render = ggnet / "render.py"
    render.write_text(render.read_text() + "\n# the renderer changed\n")
    after_render = _fingerprints(pkgs)
    assert after_render[0] != base[0] and after_render[1] != base[1]

    gcode = ggnet / "gcode.py"
    gcode.write_text(gcode.read_text() + "\n# the parser changed\n")
    after_gcode = _fingerprints(pkgs)
    assert after_gcode[0] != after_render[0] and after_gcode[1] != after_render[1]

    metrics = ggnet / "metrics.py"  # scored, but not rendered: only the fingerprint moves
    metrics.write_text(metrics.read_text() + "\n# the metric changed\n")
    after_metrics = _fingerprints(pkgs)
    assert after_metrics[0] != after_gcode[0] and after_metrics[1] == after_gcode[1]
