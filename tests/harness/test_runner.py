"""The harness in real subprocesses: a tiny run reports both metrics; hung, NaN, raising and
contract-breaking train.py files end as timeout/crash with a one-line reason; [run] command."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gg_research.commands.overrides import with_flags
from gg_research.config import load_config
from gg_research.harness.runner import run_experiment
from gg_research.harness.summary import SUMMARY_KEYS, parse_summary
from tests.harness.procs import all_gone, live_processes_mentioning
from tests.harness.standin import make_workspace


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine's cores are shared; children inherit this.
    monkeypatch.setenv("OMP_NUM_THREADS", "2")


def _ws(tmp_path: Path, dataset: Path, source: str | None = None, **kw) -> Path:
    return make_workspace(tmp_path / "ws", dataset, train_source=None if source is None else textwrap.dedent(source), **kw)


@pytest.mark.slow
def test_tiny_run_reports_both_metrics_and_writes_last_run_json(tmp_path: Path, dataset: Path) -> None:
    ws = _ws(tmp_path, dataset, budget_s=2.0)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "ok", (res.error, res.log_path.read_text()[-2000:])
    assert res.error == ""
    for key in ("pbqc", "dice"):
        assert 0.0 <= res.metrics[key] <= 1.0
    assert res.metrics["training_seconds"] >= 2.0
    assert res.metrics["num_steps"] >= 1 and res.metrics["img_per_sec"] > 0 and res.metrics["num_params_M"] > 0
    on_disk = json.loads((tmp_path / "run" / "last_run.json").read_text())
    assert on_disk == res.summary
    assert set(on_disk["frozen"]) == {"val_split", "harness_code", "eval_config"}
    assert on_disk["versions"]["torch"] and on_disk["config"]["data"]["image_size"] == 64
    import hashlib

    assert on_disk["train_sha256"] == hashlib.sha256((ws / "train.py").read_bytes()).hexdigest()
    # The block is the last thing in the log and agrees with the JSON.
    log = res.log_path.read_text()
    assert log.rstrip().splitlines()[-len(SUMMARY_KEYS) - 1] == "---"
    block = parse_summary(log)
    assert list(block) == list(SUMMARY_KEYS)
    assert block["pbqc"] == pytest.approx(on_disk["pbqc"]) and block["dice"] == pytest.approx(on_disk["dice"])


HUNG = """
    import subprocess, sys, time
    # A grandchild too: the whole process tree must go.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "gg-hung-grandchild"])
    def train(ctx):
        time.sleep(600)
"""


@pytest.mark.slow
def test_hung_train_py_is_stopped_at_its_budget_with_its_whole_tree(tmp_path: Path, dataset: Path) -> None:
    """The parent's clock, not train.py's: a run still training after budget + grace is stopped."""
    ws = _ws(tmp_path, dataset, HUNG, budget_s=1.0)
    seen_alive: list[bool] = []

    def watch(line: str) -> None:
        if line.startswith("[harness] training"):
            seen_alive.append(bool(live_processes_mentioning("gg-hung-grandchild")))

    res = run_experiment(ws, tmp_path / "run", hard_limit_s=120, on_line=watch)
    assert res.status == "invalid" and res.error.startswith("trained past its budget"), res.error
    assert "on a 1 s budget" in res.error and res.metrics == {} and res.summary == {}
    assert res.wall_seconds < 60  # budget + grace after the start-up, far from the hard limit
    assert not (tmp_path / "run" / "last_run.json").exists()
    assert seen_alive == [True]
    assert all_gone(str(ws)) and all_gone("gg-hung-grandchild")  # the whole tree is gone


@pytest.mark.slow
def test_a_run_still_starting_is_killed_at_the_hard_limit(tmp_path: Path, dataset: Path) -> None:
    ws = _ws(tmp_path, dataset, budget_s=1.0)
    t0 = time.monotonic()
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=0.5)
    assert res.status == "timeout" and res.error.startswith("killed at the hard limit of 0.5 s")
    assert time.monotonic() - t0 < 15 and all_gone(str(ws))


@pytest.mark.slow
@pytest.mark.parametrize(
    "source,expected",
    [
        ("def train(ctx):\n    ctx.log(1, loss=1.0)\n    ctx.log(2, loss=float('nan'))\n", "NaN loss at step 2"),
        ("def train(ctx):\n    raise RuntimeError('boom from train.py')\n", "RuntimeError: boom from train.py"),
    ],
    ids=["nan", "exception"],
)
def test_failing_train_py_is_a_crash_with_a_one_line_reason(tmp_path: Path, dataset: Path, source: str, expected: str) -> None:
    ws = _ws(tmp_path, dataset, source, budget_s=1.0)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "crash"
    assert expected in res.error and "\n" not in res.error
    assert not (tmp_path / "run" / "last_run.json").exists()
    assert res.metrics == {} and res.summary == {}


BAD_OUTPUT_SHAPE = """
    import torch
    from gg_research.ggnet.output import GGOutput
    class Bad(torch.nn.Module):
        def forward(self, camera, render):
            b = camera.shape[0]
            return GGOutput(theta=torch.eye(3).repeat(b, 1, 1), mask_logits=torch.zeros(b, 1, 8, 8))
    def train(ctx):
        return Bad()
"""


@pytest.mark.parametrize(
    "source,expected",
    [
        ("def train(ctx):\n    return 42\n", "returned int, not a torch.nn.Module"),
        ("def fit(ctx):\n    pass\n", "defines no function train(ctx)"),
        ("def train(ctx)\n    pass\n", "SyntaxError"),
        (BAD_OUTPUT_SHAPE, "mask_logits has shape (5, 1, 8, 8), expected (5, 1, 64, 64)"),
        ("import torch\nclass M(torch.nn.Module):\n    def forward(self, c, r):\n        return c\ndef train(ctx):\n    return M()\n",
         "must return an object with tensors .theta and .mask_logits"),
    ],
    ids=["not-a-module", "no-train", "syntax", "output-shape", "output-type"],
)
def test_contract_breaking_train_py_fails_the_child_in_one_line(
    tmp_path: Path, dataset: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, source: str,
    expected: str
) -> None:
    # The child's own entry point, in-process (the subprocess path is covered above).
    from gg_research.harness import child, wire

    ws = _ws(tmp_path, dataset, source, budget_s=0.2)
    code = child.main(_child_args(ws, tmp_path, monkeypatch))
    out = capsys.readouterr().out
    assert code == child.EXIT_CRASH
    errors = [r for r in map(wire.parse_error, out.splitlines()) if r is not None]
    assert len(errors) == 1 and expected in errors[0]
    assert not (tmp_path / "out" / "predictions.npz").exists()


def _child_args(ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> list[str]:
    """The child's arguments as the runner gives them, with its go line waiting on stdin."""
    import io

    from gg_research.harness import wire
    from gg_research.harness.data import dataset_root
    from gg_research.harness.feed import FeedServer, pair
    from gg_research.harness.scorer import data_state, train_split, trainer_view

    config = load_config(ws / "gg-research.toml")
    root = dataset_root(ws, config)
    view = trainer_view(ws, config, root, data_state(root))
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text(config.model_dump_json())
    monkeypatch.setattr("sys.stdin", io.StringIO(wire.format_go(wire.Go(out, 0, 0.2)) + "\n"))
    ours, theirs = pair()  # the parent's feed of the training split, served from this process
    FeedServer(ours).serve(train_split(view), 0)
    return ["--workspace", str(ws), "--view", str(view.inputs), "--out", str(out), "--config",
            str(out / "config.json"), "--feed-fd", str(theirs.detach()), *extra]


def _command_ws(tmp_path: Path, dataset: Path, script: str) -> Path:
    ws = _ws(tmp_path, dataset, "", budget_s=5.0, extra_run=f'command = "{sys.executable} own.py --fast"')
    (ws / "own.py").write_text(textwrap.dedent(script))
    return ws


def test_run_command_replaces_train_py(tmp_path: Path, dataset: Path) -> None:
    ws = _command_ws(
        tmp_path,
        dataset,
        """
        import json, os, sys
        d = os.environ["GG_RUN_DIR"]
        assert sys.argv[1:] == ["--fast"]
        json.dump({"pbqc": 0.5, "dice": 0.25, "budget": float(os.environ["GG_BUDGET"]),
                   "seed": int(os.environ["GG_SEED"]), "ws": os.environ["GG_WORKSPACE"]}, open(d + "/last_run.json", "w"))
        print("---\\npbqc: 0.5\\ndice: 0.25")
        """,
    )
    seen: list[str] = []
    config = with_flags(load_config(ws / "gg-research.toml"), budget_s=9)  # as `run --budget 9` gives it
    res = run_experiment(ws, tmp_path / "run", config=config, seed=7, on_line=seen.append)
    assert res.status == "ok", res.error
    assert seen == ["---\n", "pbqc: 0.5\n", "dice: 0.25\n"]  # each line handed over as it came
    # The command's own figures, and whether the parent boxed it (recorded for the report).
    # The command's own figures, and the parent's: whether it was boxed, the wall time it took.
    assert {k: v for k, v in res.metrics.items() if k != "total_seconds"} == {
        "pbqc": 0.5, "dice": 0.25, "budget": 9.0, "seed": 7.0, "boxed": 1.0}
    assert 0 < res.metrics["total_seconds"] < 60
    assert res.summary["ws"] == str(ws.resolve())
    assert "pbqc: 0.5" in res.log_path.read_text()


def test_run_command_without_json_or_with_bad_json_is_a_crash(tmp_path: Path, dataset: Path) -> None:
    ws = _command_ws(tmp_path, dataset, "print('trained, but wrote nothing')\n")
    res = run_experiment(ws, tmp_path / "run")
    assert res.status == "crash" and "no '---' summary in run.log" in res.error and "wrote nothing" in res.error

    (ws / "own.py").write_text("import os\nopen(os.environ['GG_RUN_DIR'] + '/last_run.json', 'w').write('{\"pbqc\": 1}')\n")
    res = run_experiment(ws, tmp_path / "run2")
    assert res.status == "crash" and "no numeric 'dice'" in res.error


def test_stale_last_run_json_does_not_pass_for_a_crash(tmp_path: Path, dataset: Path) -> None:
    ws = _command_ws(tmp_path, dataset, "raise SystemExit('own trainer failed: out of memory')\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "last_run.json").write_text('{"pbqc": 0.9, "dice": 0.9}')
    res = run_experiment(ws, run_dir)
    assert res.status == "crash" and res.error == "own trainer failed: out of memory"
    assert not (run_dir / "last_run.json").exists()


def test_missing_command_is_a_crash_not_an_exception(tmp_path: Path, dataset: Path) -> None:
    ws = _ws(tmp_path, dataset, "", extra_run='command = "/nonexistent/trainer --go"')
    res = run_experiment(ws, tmp_path / "run")
    assert res.status == "crash" and "/nonexistent/trainer" in res.error


def test_hung_command_is_killed_quickly(tmp_path: Path, dataset: Path) -> None:
    ws = _command_ws(tmp_path, dataset, "import time\ntime.sleep(600)\n")
    t0 = time.monotonic()
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=1.0)
    assert res.status == "timeout" and time.monotonic() - t0 < 3


def test_config_of_the_workspace_is_used_by_default(tmp_path: Path, dataset: Path) -> None:
    ws = _ws(tmp_path, dataset, budget_s=3.5)
    assert load_config(ws / "gg-research.toml").run.budget_s == 3.5


def test_ctrl_c_while_waiting_kills_the_run_and_re_raises(tmp_path: Path, dataset: Path) -> None:
    import signal
    import subprocess

    ws = _command_ws(tmp_path, dataset, "import os, time\nopen(os.environ['GG_RUN_DIR'] + '/pid', 'w').write(str(os.getpid()))\ntime.sleep(600)\n")
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from gg_research.harness.runner import run_experiment
        try:
            run_experiment(Path({str(ws)!r}), Path({str(tmp_path / 'run')!r}), hard_limit_s=120)
        except KeyboardInterrupt:
            sys.exit(42)
        sys.exit(0)
    """))
    proc = subprocess.Popen([sys.executable, str(driver)])
    deadline = time.monotonic() + 30
    # The command writes to an output folder of its own, which the parent made under .gg/runs.
    while not any(p.read_text() for p in ws.glob(".gg/runs/cmd-*/*/pid")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_processes_mentioning("own.py --fast")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 42  # KeyboardInterrupt reached the caller
    assert all_gone("own.py --fast")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_it_is_a_one_line_crash(tmp_path: Path, dataset: Path, capsys: pytest.CaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from gg_research.harness import child

    ws = _ws(tmp_path, dataset, "def train(ctx):\n    pass\n")
    code = child.main(_child_args(ws, tmp_path, monkeypatch, "--device", "cuda"))
    assert code == child.EXIT_CRASH
    assert "device 'cuda' asked for, but CUDA is not available" in capsys.readouterr().out
