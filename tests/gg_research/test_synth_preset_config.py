"""[data] synth_preset: parsed, validated, passed to the generator, part of the dataset label."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from gg_research.config import Config, ConfigError, DataSection, load_config
from gg_research.ggnet.synth_presets import PRESETS
from gg_research.harness.data import dataset_label, dataset_root


def test_config_offers_exactly_the_generator_presets() -> None:
    assert set(typing.get_args(DataSection.model_fields["synth_preset"].annotation)) == set(PRESETS)
    assert Config().data.synth_preset == "easy"


def test_bad_preset_in_config_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "gg-research.toml"
    path.write_text('[data]\nsynth_preset = "photo"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert "\n" not in msg and "data.synth_preset" in msg and str(path) in msg


def test_configured_preset_chooses_the_generated_set(tmp_path: Path) -> None:
    path = tmp_path / "gg-research.toml"
    path.write_text('[data]\nsynth_preset = "hard"\nsynth_n = 8\nsynth_size = 32\n')
    config = load_config(path)
    root = dataset_root(tmp_path, config)
    assert "hard" in root.name and json.loads((root / "synth.json").read_text())["preset"] == "hard"
    assert dataset_label(config).endswith(",preset=hard")
    assert dataset_label(Config()) == "synthetic:n=400,size=128,seed=0"  # easy: the label older ledgers have
