"""The integrity fingerprint: what a score depends on besides train.py, and refusing to compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from gg_research.config import Config
from gg_research.harness.errors import NotComparable
from gg_research.harness.integrity import check_comparable, frozen_fingerprint


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
