"""A run cannot cheat, leak or escape: each test is the hostile train.py it names, run by the real
harness in its real sandbox, and each ends with the scores honest and the workspace as it was."""

from __future__ import annotations

import json
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from gg_research.harness.runner import run_experiment
from gg_research.harness.sandbox import bwrap_works
from tests.harness.procs import all_gone
from tests.harness.standin import make_workspace

boxed = pytest.mark.skipif(bwrap_works() is not None, reason=f"no sandbox here: {bwrap_works()}")
pytestmark = pytest.mark.slow

# A model that predicts "no defect, no misalignment": its honest scores are fixed by the data.
MODEL = '''
import torch
from gg_research.ggnet.output import GGOutput

class Still(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, camera, render):
        b, _, h, w = camera.shape
        return GGOutput(theta=torch.eye(3).repeat(b, 1, 1) + 0 * self.w, mask_logits=torch.full((b, 1, h, w), -5.0) + self.w)
'''

PROBES = MODEL + '''
import gc, json, os, socket, subprocess, sys

FORGED = 0.123456
probe = {}

def attempt(name, fn):
    try:
        probe[name] = ("done", repr(fn())[:200])
    except BaseException as exc:
        probe[name] = ("blocked", type(exc).__name__)

def train(ctx):
    ws = os.environ["GG_WORKSPACE"]
    # 1. replace the metrics in this process
    import gg_research.ggnet.metrics as m
    m.DiceAccumulator.value = lambda self: FORGED
    m.PBQCAccumulator.value = lambda self: FORGED
    # 2. labels: on disk, and anywhere in this process's memory
    attempt("read_val_masks", lambda: os.listdir(DATASET + "/masks"))
    attempt("read_manifest", lambda: open(DATASET + "/manifest.jsonl").read(10))
    attempt("read_ledger", lambda: open(ws + "/results/experiments.jsonl").read(10))
    val_masks = [o for o in gc.get_objects() if type(o).__name__ == "GGDataset" and o.split == "val" and o.mask.any()]
    probe["val_masks_in_memory"] = len(val_masks)
    # 3. write where it must not
    attempt("append_ledger", lambda: open(ws + "/results/experiments.jsonl", "a").write('{"id": "e0001", "metrics": {"pbqc": 0}}\\n'))
    attempt("write_workspace", lambda: open(ws + "/program.md", "a").write("hacked"))
    attempt("poison_cache", lambda: open(ws + "/.gg/cache/render-poison.npz", "wb").write(b"x"))
    # 4. the network and secrets
    attempt("socket", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=2).send(b"leak"))
    probe["api_key"] = os.environ.get("ANTHROPIC_API_KEY", "")
    attempt("parent_environ", lambda: open("/proc/%d/environ" % os.getppid(), "rb").read().count(b"sk-ant-"))
    # 5. escape the end of the run
    subprocess.Popen(["setsid", sys.executable, "-c", "import time; time.sleep(900)", "gg-escapee-marker"])
    # 6. a later deadline
    attempt("extend_deadline", lambda: setattr(ctx, "deadline", ctx.deadline + 40))
    # 7. its own result file
    json.dump({"pbqc": 0.97, "dice": 0.97}, open(os.environ["GG_RUN_DIR"] + "/last_run.json", "w"))
    print("PROBE " + json.dumps(probe), flush=True)  # the parent takes no file but its own from the run
    ctx.log(1, loss=1.0)
    return Still()
'''


def _honest_scores(tmp_path: Path, dataset: Path) -> dict[str, float]:
    ws = make_workspace(tmp_path / "honest", dataset, train_source=MODEL + "\ndef train(ctx):\n    return Still()\n", budget_s=1.0)
    res = run_experiment(ws, tmp_path / "honest-run", hard_limit_s=240)
    assert res.status == "ok", res.error
    return {k: res.metrics[k] for k in ("pbqc", "dice")}


@boxed
def test_a_hostile_train_py_is_scored_honestly_and_reaches_nothing(tmp_path: Path, dataset: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(60)

    def serve() -> None:
        try:
            conn, _ = server.accept()
            received.append(conn.recv(100))
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-secret")
    source = PROBES.replace("PORT", str(server.getsockname()[1])).replace("DATASET", repr(str(dataset)))
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    ledger = ws / "results" / "experiments.jsonl"
    ledger.parent.mkdir(parents=True)
    ledger.write_text('{"id": "e0001", "status": "baseline", "metrics": {"pbqc": 0.5, "dice": 0.5}}\n')
    (ws / "program.md").write_text("brief\n")
    (ws / ".gg" / "cache").mkdir(parents=True)
    before = {p: p.read_bytes() for p in (ledger, ws / "program.md")}

    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    server.close()
    assert res.status == "ok", res.error
    probe = json.loads(next(ln for ln in res.log_path.read_text().splitlines() if ln.startswith("PROBE "))[6:])
    blocked = {k for k, v in probe.items() if isinstance(v, list) and v[0] == "blocked"}
    assert blocked >= {"read_val_masks", "read_manifest", "read_ledger", "append_ledger", "write_workspace",
                       "poison_cache", "socket", "extend_deadline"}, probe
    # Its parent in the box is bubblewrap, whose environment is the allow-listed one: no key either way.
    assert probe["parent_environ"] in (["done", "0"], ["blocked", "PermissionError"]), probe
    assert probe["val_masks_in_memory"] == 0 and probe["api_key"] == "" and received == []
    # The scores are the parent's, of the predictions: neither the patched metrics nor the forged file.
    assert res.metrics["pbqc"] != 0.123456 and res.metrics["dice"] != 0.123456
    assert {k: res.metrics[k] for k in ("pbqc", "dice")} == pytest.approx(_honest_scores(tmp_path, dataset))
    assert json.loads((tmp_path / "run" / "last_run.json").read_text())["pbqc"] == res.metrics["pbqc"]
    assert {p: p.read_bytes() for p in before} == before and not (ws / ".gg" / "cache" / "render-poison.npz").exists()
    assert all_gone("gg-escapee-marker")


@boxed
def test_a_run_that_exits_before_training_with_its_own_result_is_a_crash(tmp_path: Path, dataset: Path) -> None:
    source = textwrap.dedent("""
        import json, os
        def train(ctx):
            json.dump({"pbqc": 0.97, "dice": 0.97}, open(os.environ["GG_RUN_DIR"] + "/last_run.json", "w"))
            print("---\\npbqc: 0.97\\ndice: 0.97", flush=True)
            os._exit(0)
    """)
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "crash" and "without training" in res.error and res.metrics == {}


@boxed
@pytest.mark.parametrize("where", ["train", "import"])
def test_training_past_the_budget_is_invalid(tmp_path: Path, dataset: Path, where: str) -> None:
    """A deadline moved behind the harness's back, or work done at import: the parent's clock counts both."""
    body = ("import time\ntime.sleep(9)\n" + MODEL + "def train(ctx):\n    return Still()\n") if where == "import" else (
        MODEL + textwrap.dedent("""
        import time
        def train(ctx):
            object.__setattr__(ctx, "deadline", ctx.deadline + 40)
            while ctx.time_left() > 0:
                time.sleep(0.2)
            return Still()
        """))
    ws = make_workspace(tmp_path / "ws", dataset, train_source=body, budget_s=1.0, extra_run="budget_grace_s = 2")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "invalid" and "trained past its budget" in res.error and "on a 1 s budget" in res.error
    assert res.wall_seconds < 120 and not (tmp_path / "run" / "last_run.json").exists()


@boxed
def test_a_run_over_its_memory_limit_is_a_one_line_crash(tmp_path: Path, dataset: Path) -> None:
    source = MODEL + "def train(ctx):\n    hog = bytearray(3 * 2**30)\n    return Still()\n"
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0, extra_run="memory_gb = 2")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "crash" and "MemoryError" in res.error and "[run] memory_gb" in res.error
    assert "\n" not in res.error


@boxed
def test_a_flood_of_output_is_cut_and_the_run_goes_on(tmp_path: Path, dataset: Path) -> None:
    source = MODEL + "def train(ctx):\n    for i in range(40000):\n        print('x' * 79)\n    return Still()\n"
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=3.0, extra_run="max_log_mb = 1")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "ok", res.error
    log = (tmp_path / "run" / "run.log").read_text()
    assert len(log) < 1.2 * 2**20 and "run.log truncated at 1 MB" in log
    assert log.rstrip().endswith(f"seed: {res.summary['seed']}")  # the parent's summary still closes it


def test_without_the_sandbox_a_run_that_changes_the_data_is_invalid_and_says_how_to_recover(
        tmp_path: Path, dataset: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    mask = sorted((data / "masks").iterdir())[0]
    source = MODEL + f"def train(ctx):\n    open({str(mask)!r}, 'ab').write(b'tamper')\n    return Still()\n"
    ws = make_workspace(tmp_path / "ws", data, train_source=source, budget_s=1.0, extra_run='sandbox = "off"')
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "invalid" and "changed during this run" in res.error and "restore the dataset" in res.error
    assert "warning: runs are NOT isolated" in (tmp_path / "run" / "run.log").read_text()
