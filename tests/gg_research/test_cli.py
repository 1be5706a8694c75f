"""The command line: help for every command, and no heavy imports on the way to it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gg_research.cli import COMMANDS, build_parser

HEAVY = ("torch", "chromadb", "sentence_transformers", "segmentation_models_pytorch", "monai", "kornia", "optuna", "anthropic", "matplotlib")


def test_every_command_has_help() -> None:
    parser = build_parser()
    for name, _module, _help in COMMANDS:
        with pytest.raises(SystemExit) as info:
            parser.parse_args([name, "--help"])
        assert info.value.code == 0


def test_help_imports_no_heavy_library() -> None:
    # `--help` and argument errors must answer fast: measure what they import, not the clock.
    code = (
        "import sys\n"
        "from gg_research.cli import main\n"
        "for argv in (['--help'], ['run', '--help'], ['loop', '--help'], ['ingest', '--help'], ['nonsense']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_unknown_command_exits_2() -> None:
    out = subprocess.run([sys.executable, "-m", "gg_research.cli", "frobnicate"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


@pytest.mark.parametrize("command", [["run"], ["loop", "--tag", "t"], ["report", "--watch"]])
@pytest.mark.parametrize("value", ["nan", "inf", "-2", "0"])
def test_a_budget_or_interval_that_is_not_a_positive_number_is_refused(command: list[str], value: str,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    flag = [] if command[0] == "report" else ["--budget"]
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*command, *flag, value])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"must be a positive number, got '{value}'" in err
