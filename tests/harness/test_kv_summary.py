"""The `---` summary of a training script, read as printed (harness.kv_summary), and a `[run]
command` that prints one instead of writing last_run.json (real subprocesses)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from gg_research.harness.kv_summary import MAX_TAIL_BYTES, parse_kv_summary, parse_value, read_tail, summary_from_log
from gg_research.harness.runner import run_experiment

# The shapes printed by autoresearch's train.py and by forks of it (values as they print them).
AUTORESEARCH = """\
step 00953 (100.0%) | loss: 3.1 | lrm: 0.00 | dt: 314ms
---
val_bpb:          0.997900
training_seconds: 300.1
total_seconds:    325.9
peak_vram_mb:     45060.2
mfu_percent:      39.80
total_tokens_M:   499.6
num_steps:        953
num_params_M:     50.3
depth:            8
"""
TRADER = "\n---\nscore:            0.4200\nmax_drawdown:     -15.2%\nval_pass:         true\ndelta:   +0.001\n"


def test_the_autoresearch_block_parses_as_numbers() -> None:
    block = parse_kv_summary(AUTORESEARCH)
    assert block is not None
    assert block.numbers["val_bpb"] == 0.9979 and block.numbers["num_steps"] == 953.0
    assert list(block.numbers)[:2] == ["val_bpb", "training_seconds"] and not block.texts


def test_fork_values_percent_bool_sign_and_text() -> None:
    block = parse_kv_summary(TRADER + "device: cuda:0\n")
    assert block.numbers == {"score": 0.42, "max_drawdown": -15.2, "val_pass": 1.0, "delta": 0.001}
    assert block.texts == {"device": "cuda:0"}


def test_non_finite_values_are_rejected_not_read() -> None:
    block = parse_kv_summary("---\nval_bpb: nan\nloss: -inf\nbig: 1e999\nok: 2\n")
    assert block.numbers == {"ok": 2.0}
    assert set(block.rejected) == {"val_bpb", "loss", "big"}
    assert parse_value("Infinity") is None and parse_value("x" * 500) is None and parse_value("a\x00b") is None


def test_the_last_block_counts_and_output_after_it_ends_it() -> None:
    text = "---\nval_bpb: 9.0\n---\nval_bpb: 1.5\nval_bpb: 0.1\nTraceback (most recent call last):\nloss: 7\n"
    block = parse_kv_summary(text)
    assert block.numbers == {"val_bpb": 1.5}  # first value of a repeated key; the traceback ends the block
    assert parse_kv_summary("no summary here\n") is None


def test_a_flood_of_keys_is_bounded() -> None:
    block = parse_kv_summary("---\n" + "".join(f"k{i}: {i}\n" for i in range(10_000)))
    assert len(block.numbers) == 64


def test_read_tail_is_bounded_and_refuses_links(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("x" * (3 * MAX_TAIL_BYTES) + "\n---\nval_bpb: 1.25\n")
    text = read_tail(log)
    assert len(text) <= MAX_TAIL_BYTES and text.endswith("val_bpb: 1.25\n")
    link = tmp_path / "link.log"
    link.symlink_to(log)
    with pytest.raises(OSError):
        read_tail(link)
    summary, why = summary_from_log(link, ["val_bpb"])
    assert summary == {} and "cannot be read" in why


def test_missing_objective_names_it_with_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("---\nval_bpb: 0.99\npeak_vram_mb: 10\n")
    summary, why = summary_from_log(log, ["val_bpb", "mfu_percent"])
    assert summary == {} and "no 'mfu_percent'" in why and "peak_vram_mb: 10" in why
    log.write_text("loading\nRuntimeError: CUDA out of memory\n")
    summary, why = summary_from_log(log, ["val_bpb"])
    assert "no '---' summary" in why and "CUDA out of memory" in why
    log.write_text("---\nval_bpb: N/A\n")
    assert "not a number ('N/A')" in summary_from_log(log, ["val_bpb"])[1]


# -- a [run] command that prints its summary -------------------------------------------------------

def _command_ws(tmp_path: Path, script: str, extra: str = "") -> Path:
    ws = tmp_path / "ws"
    ws.mkdir(parents=True)
    (ws / "own.py").write_text(textwrap.dedent(script))
    (ws / "gg-research.toml").write_text(
        f'[run]\ncommand = "{sys.executable} own.py"\nbudget_s = 5\n{extra}\n'
        '[[objectives]]\nname = "val_bpb"\ndirection = "minimize"\n')
    return ws


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def test_a_command_printing_the_summary_needs_no_last_run_json(tmp_path: Path) -> None:
    ws = _command_ws(tmp_path, f"print('warming up')\nprint({AUTORESEARCH!r} + 'device: cpu')\n")
    res = run_experiment(ws, tmp_path / "run")
    assert res.status == "ok", res.error
    assert res.metrics["val_bpb"] == 0.9979 and res.metrics["peak_vram_mb"] == 45060.2
    assert res.summary["device"] == "cpu" and "device" not in res.metrics
    # The parent writes the record the command did not: its summary as read, and whether it was boxed.
    written = json.loads((tmp_path / "run" / "last_run.json").read_text())
    assert written["val_bpb"] == 0.9979 and "boxed" in written


def test_a_command_without_the_objective_is_a_crash_quoting_its_log(tmp_path: Path) -> None:
    ws = _command_ws(tmp_path, "print('step 10 loss 3.2')\nprint('---')\nprint('val_loss: 0.5')\n")
    res = run_experiment(ws, tmp_path / "run")
    assert res.status == "crash"
    assert "no 'val_bpb'" in res.error and "val_loss: 0.5" in res.error
    ws2 = _command_ws(tmp_path / "b", "print('---')\nprint('val_bpb: nan')\n")
    res = run_experiment(ws2, tmp_path / "run2")
    assert res.status == "crash" and "val_bpb is not a finite number ('nan')" in res.error


def test_printed_text_cannot_pose_as_the_parents_fingerprint(tmp_path: Path) -> None:
    from gg_research.loop.records import frozen_of

    ws = _command_ws(tmp_path, "print('---')\nprint('val_bpb: 1.0')\nprint('frozen: same-as-baseline')\n")
    res = run_experiment(ws, tmp_path / "run")
    # The parent's keys are never the command's: a printed `frozen` is dropped, not stored.
    assert res.status == "ok" and "frozen" not in res.summary and frozen_of(res) is None


def test_a_command_may_name_its_own_log_file(tmp_path: Path) -> None:
    script = """
        import os
        with open(os.path.join(os.environ["GG_RUN_DIR"], "train.log"), "w") as fh:
            fh.write("---\\nval_bpb: 1.125\\n")
        print("---")
        print("val_bpb: 9.0")  # stdout's block is not the one named
    """
    ws = _command_ws(tmp_path, script, 'summary_log = "train.log"')
    res = run_experiment(ws, tmp_path / "run")
    assert res.status == "ok", res.error
    assert res.metrics["val_bpb"] == 1.125


def test_a_named_log_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("---\nval_bpb: 0.001\n")
    script = f"""
        import os
        os.symlink({str(secret)!r}, os.path.join(os.environ["GG_RUN_DIR"], "train.log"))
    """
    ws = _command_ws(tmp_path, script, 'summary_log = "train.log"\nsandbox = "off"')
    res = run_experiment(ws, tmp_path / "run")
    # The parent takes no link from the command's folder: the run broke the rules, and nothing is read through it.
    assert res.status == "invalid" and "symbolic link" in res.error


def test_summary_log_must_stay_inside_the_run_folder(tmp_path: Path) -> None:
    from gg_research.config import ConfigError, load_config

    for bad in ("../../etc/passwd", "sub/train.log", "/tmp/x.log", ".."):
        ws = _command_ws(tmp_path / bad.replace("/", "_"), "", f'summary_log = "{bad}"')
        with pytest.raises(ConfigError, match="summary_log: .* without a folder"):
            load_config(ws / "gg-research.toml")
    assert os.path.exists(ws / "own.py")
