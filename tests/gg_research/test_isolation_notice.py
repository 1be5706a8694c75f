"""The one notice run, loop and step give when runs will not be boxed, and the refusal when boxing is required."""

from __future__ import annotations

import pytest

from gg_research.commands.isolation import say_if_unboxed
from gg_research.config import Config
from gg_research.harness import box
from gg_research.harness.errors import TrainContractError


def test_without_bubblewrap_the_command_says_so_once_with_the_install_command(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(box, "bwrap_works", lambda: "bubblewrap (bwrap) is not installed")
    say_if_unboxed(Config())
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "NOT isolated" in err and "sudo apt install bubblewrap" in err and 'sandbox = "bwrap"' in err


def test_a_boxed_machine_says_nothing_and_a_required_box_that_cannot_start_is_refused(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(box, "bwrap_works", lambda: None)
    say_if_unboxed(Config())
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(box, "bwrap_works", lambda: "bubblewrap (bwrap) is not installed")
    cfg = Config()
    cfg.run.sandbox = "bwrap"
    with pytest.raises(TrainContractError, match='sandbox = "bwrap" but bubblewrap'):
        say_if_unboxed(cfg)
