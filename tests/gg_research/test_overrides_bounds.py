"""Red team of the one override path (issue 30, item 4): a flag's value goes through the same
checks as the config file's own value. `model_copy(update=...)` does not validate, and the flags'
argparse types only check that a number is positive, so bounds of the config's fields were lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gg_research.commands.overrides import with_flags
from gg_research.config import load_config
from gg_research.errors import ConfigError
from tests.loop.fakes import make_workspace


@pytest.mark.parametrize("flag", [{"baseline_seeds": 11}, {"workers": 257}, {"budget_s": -5.0}])
def test_a_flag_value_the_config_file_refuses_is_refused(tmp_path: Path, flag: dict) -> None:
    config = load_config(make_workspace(tmp_path / "ws") / "gg-research.toml")
    section, field = {"baseline_seeds": ("keep", "baseline_seeds"), "workers": ("parallel", "workers"),
                      "budget_s": ("run", "budget_s")}[next(iter(flag))]
    with pytest.raises(ValidationError):  # the config file with this value is refused
        type(config).model_validate({**config.model_dump(), section: {**config.model_dump()[section],
                                                                      field: next(iter(flag.values()))}})
    with pytest.raises(ConfigError):  # and so is the flag, with its name
        with_flags(config, **flag)
