"""Flags reach the config one way (gg_research.commands.overrides): a copy, the loaded config untouched."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from gg_research.cli import build_parser
from gg_research.commands.overrides import with_flags
from gg_research.config import ProposerSection, load_config
from tests.loop.fakes import make_workspace


def test_flags_go_to_a_copy_and_only_the_given_ones(tmp_path: Path) -> None:
    config = load_config(make_workspace(tmp_path / "ws") / "gg-research.toml")
    before = config.model_dump()
    copy = with_flags(config, budget_s=7.5, baseline_seeds=4, workers=3, device="cpu", seed=None)
    assert config.model_dump() == before  # the loaded config is never changed
    assert (copy.run.budget_s, copy.keep.baseline_seeds, copy.parallel.workers, copy.run.device) == (7.5, 4, 3, "cpu")
    assert copy.run.seed == config.run.seed and copy.objectives == config.objectives
    assert with_flags(config).model_dump() == before


def test_the_proposer_choices_are_the_configs_own() -> None:
    loop = next(a for a in build_parser()._subparsers._group_actions[0].choices["loop"]._actions  # noqa: SLF001
                if "--proposer" in a.option_strings)
    assert list(loop.choices) == list(get_args(ProposerSection.model_fields["kind"].annotation))


def test_a_flag_is_held_to_what_the_config_file_allows(tmp_path: Path) -> None:
    import pytest

    from gg_research.errors import ConfigError

    config = load_config(make_workspace(tmp_path / "ws") / "gg-research.toml")
    with pytest.raises(ConfigError, match=r"^--workers: Input should be less than or equal to 256$"):
        with_flags(config, workers=1000)
    with pytest.raises(ConfigError, match=r"^--budget: "):
        with_flags(config, budget_s=-1.0)


def test_the_command_line_says_which_flag_is_out_of_range_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    ws = make_workspace(tmp_path / "ws")
    before = subprocess.run(["git", "-C", str(ws), "log", "--oneline"], capture_output=True, text=True).stdout
    out = subprocess.run([sys.executable, "-m", "gg_research", "loop", "--tag", "t", "--workers", "1000", "--max-experiments", "1"],
                         cwd=ws, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1].endswith("--workers: Input should be less than or equal to 256")
    assert len(out.stderr.strip().splitlines()) == 1
    assert subprocess.run(["git", "-C", str(ws), "log", "--oneline"], capture_output=True, text=True).stdout == before
    assert not (ws / "results" / "experiments.jsonl").exists()
