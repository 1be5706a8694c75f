"""The workspace config: defaults, validation errors that name the key and the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gg_research.config import (
    CONFIG_NAME,
    Config,
    ConfigError,
    find_workspace,
    load_config,
    render_default_toml,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / CONFIG_NAME
    path.write_text(text, encoding="utf-8")
    return path


def test_default_toml_round_trips_to_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, render_default_toml())
    assert load_config(path) == Config()
    # Every field's description is written as a comment, so the file explains itself.
    text = path.read_text()
    assert "# Training time budget in seconds" in text


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ""))
    assert cfg.run.budget_s == 300.0
    assert [o.name for o in cfg.objectives] == ["pbqc", "dice"]
    assert cfg.run.effective_hard_limit() == 2 * 300.0 + 120.0


def test_values_are_read(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            '[run]\nbudget_s = 12.5\nhard_limit_s = 40\ncommand = "python score.py"\n[keep]\nrule = "scalar"\n'
            '[[objectives]]\nname = "pbqc"\n[[objectives]]\nname = "loss"\ndirection = "minimize"\n',
        )
    )
    assert cfg.run.budget_s == 12.5
    assert cfg.run.effective_hard_limit() == 40
    assert cfg.keep.rule == "scalar"
    assert cfg.objective("loss").direction == "minimize"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[run]\nbudjet_s = 3\n", "run.budjet_s: unknown key"),
        ("[run]\nbudget_s = -1\n", "run.budget_s"),
        ("[run]\nbudget_s = 'soon'\n", "run.budget_s"),
        ("[keep]\nrule = 'vibes'\n", "keep.rule"),
        ("[surprise]\nx = 1\n", "surprise: unknown key"),
        ("[[objectives]]\nname='dice'\n[[objectives]]\nname='dice'\n", "duplicate names"),
        ("[keep]\nrule='threshold'\nprimary='iou'\n", "keep.primary"),
        ("[[objectives]]\nname = 'pbqc'\ndirection = 'up'\n", "objectives.0.direction"),
        ("[run]\nbudget = 'images'\n", 'run: budget = "images" needs budget_images > 0'),
        ("[run]\nbudget = 'steps'\n", "run.budget"),
        ("[knowledge]\nsynonyms = [['GG-Net']]\n", "knowledge: synonyms[0]: a group needs at least two"),
        ("[knowledge]\nsynonyms = [['GG-Net', ' ']]\n", "knowledge: synonyms[0]"),
        ("[knowledge]\nsynonyms = 'nozzle'\n", "knowledge.synonyms"),
    ],
)
def test_bad_values_name_the_key_and_file(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message


def test_malformed_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[run\nbudget_s = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / CONFIG_NAME)


def test_find_workspace_walks_up(tmp_path: Path) -> None:
    write(tmp_path, "")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_workspace(deep) == tmp_path.resolve()


def test_find_workspace_outside_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not inside a gg-research workspace"):
        find_workspace(tmp_path)


def test_none_defaults_are_written_commented_out() -> None:
    # max_slowdown defaults to None: it must not be written as a value TOML/pydantic reject.
    parsed = tomllib.loads(render_default_toml())
    assert "max_slowdown" not in parsed["keep"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "gg-research.toml"
    path.write_text(f"[run]\nbudget_s = {value}\n")
    with pytest.raises(ConfigError, match="run.budget_s") as info:
        load_config(path)
    assert "\n" not in str(info.value)


def test_an_objective_the_harness_does_not_report_is_refused_when_the_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "gg-research.toml"
    path.write_text('[[objectives]]\nname = "pbqc"\n\n[[objectives]]\nname = "boundary_f1"\n')
    with pytest.raises(ConfigError, match="the harness does not report 'boundary_f1'"):
        load_config(path)
    # A command that evaluates itself may report its own figures.
    path.write_text('[run]\ncommand = "python my_train.py"\n\n[[objectives]]\nname = "boundary_f1"\n')
    assert [o.name for o in load_config(path).objectives] == ["boundary_f1"]
