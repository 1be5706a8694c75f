"""Red team of the frozen set (issue 30, item 1): `[workspace] mutable` is read as it is written, so a
careless `mutable = ["train.py", "gg-research.toml"]` makes the config itself an editable file. An
agent's step then commits and keeps an edit of it (tried: `[run] sandbox = "off"` beside a train.py
change was kept, and every later step loads it: runs unboxed), and a proposer may change the budget,
the objectives or the keep rule it is judged by. (Entries outside the workspace, or in `.gg/`,
`results/` or `.git/`, are untracked and the loop's set-up already refuses them.) The config file
should refuse the entry with a one-line error that names it, as it refuses any other bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from gg_research.config import load_config
from gg_research.errors import ConfigError


@pytest.mark.parametrize("entry", ["gg-research.toml", "./gg-research.toml"])
def test_the_config_file_itself_is_refused_as_a_mutable_file(tmp_path: Path, entry: str) -> None:
    path = tmp_path / "gg-research.toml"
    path.write_text(f'[workspace]\nmutable = ["train.py", "{entry}"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="mutable"):
        load_config(path)


def test_the_usual_mutable_files_are_still_accepted(tmp_path: Path) -> None:
    path = tmp_path / "gg-research.toml"
    path.write_text('[workspace]\nmutable = ["train.py", "model/net.py", "configs/aug.yaml"]\n', encoding="utf-8")
    assert load_config(path).workspace.mutable == ["train.py", "model/net.py", "configs/aug.yaml"]


@pytest.mark.parametrize("entry, why", [
    (".gitignore", "frozen"), ("results/results.tsv", "under results/"), (".gg/notes.jsonl", "under .gg/"),
    ("model/../.git/config", "under .git/"), ("program.md", "research brief"), ("../elsewhere.py", "outside"),
    ("data/manifest.jsonl", "dataset folder"),
])
def test_every_file_the_loop_or_the_harness_keeps_frozen_is_refused_by_name(tmp_path: Path, entry: str, why: str) -> None:
    path = tmp_path / "gg-research.toml"
    path.write_text(f'[workspace]\nmutable = ["train.py", "{entry}"]\n[data]\ndataset = "data"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and "workspace.mutable" in message and repr(entry) in message and why in message
