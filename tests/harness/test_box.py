"""The box holds against a hostile train.py, class by class: each test is a run of the real harness in
its real sandbox (bubblewrap), made by attempts of the kinds an LLM's well-meant or hostile edit makes.

Classes: what the box shows of the machine; labels rebuilt inside it; files the run leaves for the
parent; budgets counted by the parent; a parent that cannot be knocked over; the source that runs.
Probes report through stdout (run.log): the parent takes nothing else from the run but its named files.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gg_research.harness.limits import RunLimits
from gg_research.harness.runner import run_experiment
from gg_research.harness.sandbox import bwrap_works
from tests.harness.procs import all_gone
from tests.harness.standin import make_workspace
from tests.harness.test_hostile import MODEL

boxed = pytest.mark.skipif(bwrap_works() is not None, reason=f"no sandbox here: {bwrap_works()}")
pytestmark = [pytest.mark.slow, boxed]

PROBE_HELPERS = MODEL + '''
import json, os, sys
probe = {}

def attempt(name, fn):
    try:
        probe[name] = ["done", repr(fn())[:200]]
    except BaseException as exc:
        probe[name] = ["blocked", type(exc).__name__]

def report():
    print("PROBE " + json.dumps(probe), flush=True)
'''


def _probe(res) -> dict:
    lines = [ln for ln in Path(res.log_path).read_text().splitlines() if ln.startswith("PROBE ")]
    assert lines, Path(res.log_path).read_text()[-3000:]
    return json.loads(lines[-1][len("PROBE "):])


def _blocked(probe: dict) -> set[str]:
    return {k for k, v in probe.items() if v[0] == "blocked"}


# -- 1. the box shows only what the run must see ---------------------------------------------------

def test_nothing_of_the_machine_beyond_the_allow_list_is_reachable(tmp_path: Path, dataset: Path) -> None:
    """Other copies of the labels, a sibling workspace, the home folder, host sockets (a file socket
    and an abstract one), host /tmp and /dev/shm: none is reachable; writes land in private tmpfs."""
    sibling = tmp_path / "other-ws"
    (sibling / ".gg" / "data").mkdir(parents=True)
    (sibling / ".gg" / "data" / ".secret").write_bytes(b"s" * 32)
    (sibling / "results").mkdir()
    (sibling / "results" / "experiments.jsonl").write_text("{}\n")
    copy = tmp_path / "synth-out"  # a `data synth --out` folder elsewhere on the machine
    copy.mkdir()
    (copy / "manifest.jsonl").write_text('{"split": "val"}\n')
    sock_path = tmp_path / "host.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    server.listen(1)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(b"\0gg-test-abstract")
    abstract.listen(1)
    marker = f"gg-box-{os.getpid()}"
    source = PROBE_HELPERS + textwrap.dedent(f'''
        import socket
        def train(ctx):
            attempt("dataset_copy", lambda: os.listdir({str(dataset)!r}))
            attempt("synth_out", lambda: open({str(copy / "manifest.jsonl")!r}).read())
            attempt("sibling_secret", lambda: open({str(sibling / ".gg/data/.secret")!r}, "rb").read())
            attempt("sibling_ledger", lambda: open({str(sibling / "results/experiments.jsonl")!r}).read())
            attempt("home", lambda: sorted(os.listdir({str(Path.home())!r})))
            attempt("etc_shadow", lambda: open("/etc/shadow").read(1))
            attempt("unix_socket", lambda: socket.socket(socket.AF_UNIX).connect({str(sock_path)!r}))
            attempt("abstract_socket", lambda: socket.socket(socket.AF_UNIX).connect(b"\\0gg-test-abstract"))
            attempt("tcp", lambda: socket.create_connection(("127.0.0.1", 22), timeout=2))
            attempt("view_listing", lambda: sorted(os.listdir(os.path.dirname(os.getcwd() + "/.gg/views/x"))))
            open("/tmp/{marker}", "w").write("x")
            open("/dev/shm/{marker}", "w").write("x")
            attempt("workspace_files", lambda: sorted(os.listdir(".")))
            report()
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    (ws / "notes.txt").write_text("untracked data-like file")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    server.close()
    abstract.close()
    assert res.status == "ok", res.error
    probe = _probe(res)
    assert _blocked(probe) >= {"dataset_copy", "synth_out", "sibling_secret", "sibling_ledger", "etc_shadow",
                               "unix_socket", "abstract_socket", "tcp"}, probe
    # Of the home folder, at most the way to the Python environment when it lives there (pyenv, a venv).
    home = Path.home().resolve()
    env_dirs = {Path(p).resolve().relative_to(home).parts[0] for p in (sys.prefix, sys.base_prefix)
                if home in Path(p).resolve().parents}
    assert probe["home"][0] == "blocked" or set(eval(probe["home"][1])) <= env_dirs, probe["home"]
    # The workspace as the run sees it: its source and settings, not its untracked data or state.
    assert "notes.txt" not in probe["workspace_files"][1] and "train.py" in probe["workspace_files"][1]
    assert not Path(f"/tmp/{marker}").exists() and not Path(f"/dev/shm/{marker}").exists()


@pytest.mark.parametrize("trainer", ["command", "train.py"])
def test_a_worktree_run_never_sees_the_workspace_it_came_from_even_inside_a_readable_folder(
        tmp_path: Path, dataset: Path, trainer: str) -> None:
    """A parallel loop runs each experiment in a worktree beside the workspace. The folder holding
    both is `[run] readable` (it holds a data cache the run needs): the run reads the cache, and
    neither the workspace's (nor the worktree's own) results/ and .gg/ nor the labels' folder."""
    import subprocess

    projects = tmp_path / "projects"
    (projects / "cache").mkdir(parents=True)
    (projects / "cache" / "tokens.txt").write_text("cached")
    ws = projects / "ws"
    secrets = [ws / "results" / "experiments.jsonl", ws / ".gg" / "notes.jsonl"]
    probes = {"cache": projects / "cache" / "tokens.txt", "origin_results": secrets[0], "origin_state": secrets[1],
              "dataset": dataset / "manifest.jsonl"}
    reads = "".join(f"    attempt({k!r}, lambda: open({str(v)!r}).read())\n" for k, v in probes.items())
    if trainer == "command":
        source = "", f'command = "{sys.executable} own.py"\nreadable = ["{projects}", "{dataset}"]'
    else:
        source = PROBE_HELPERS + "def train(ctx):\n" + reads + "    report()\n    return Still()\n", \
                 f'readable = ["{projects}", "{dataset}"]'
    make_workspace(ws, dataset, train_source=source[0], budget_s=1.0, extra_run=source[1])
    (ws / "own.py").write_text(PROBE_HELPERS.removeprefix(MODEL) + "def run():\n" + reads + "    report()\n"
                               + "    json.dump({'pbqc': 0.5, 'dice': 0.5}, open(os.environ['GG_RUN_DIR'] + '/last_run.json', 'w'))\n"
                               + "run()\n")
    git = ["git", "-C", str(ws), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "workspace"], check=True)
    for path in secrets:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the main workspace's state")
    wt = projects / "ws.worktrees" / "k" / "slot0000"
    subprocess.run([*git, "worktree", "add", "-q", "--detach", str(wt)], check=True)
    res = run_experiment(wt, ws / "results" / "runs" / "e0002", hard_limit_s=240)
    assert res.status == "ok", (res.error, Path(res.log_path).read_text()[-2000:])
    probe = _probe(res)
    assert probe["cache"] == ["done", repr("cached")], probe
    expect = {"origin_results", "origin_state"} | ({"dataset"} if trainer == "train.py" else set())
    assert expect <= _blocked(probe), probe
    if trainer == "command":  # a command reads its own data: the dataset folder is its readable
        assert probe["dataset"][0] == "done", probe


# -- 2. synthetic labels cannot be rebuilt inside the box -----------------------------------------

def test_regenerating_the_synthetic_labels_inside_the_box_gains_nothing(tmp_path: Path) -> None:
    """The generator is importable in the box and the config names its parameters: a run regenerates
    the set and predicts its validation masks. The workspace's secret makes them other masks."""
    oracle = MODEL + textwrap.dedent('''
        import json, os, tempfile
        import numpy as np
        import torch
        from gg_research.ggnet.output import GGOutput
        from gg_research.ggnet.synth import ensure_synthetic
        from gg_research.ggnet.dataset import GGDataset

        class Oracle(torch.nn.Module):
            """The regenerated validation masks, in the order the harness predicts the split (then zeros)."""
            def __init__(self, masks):
                super().__init__()
                self.masks, self.i, self.w = masks, 0, torch.nn.Parameter(torch.zeros(1))

            def forward(self, camera, render):
                b, _, h, w = camera.shape
                m = torch.zeros(b, 1, h, w)
                got = self.masks[self.i:self.i + b]
                m[:len(got)] = got
                self.i += b
                return GGOutput(theta=torch.eye(3).repeat(b, 1, 1), mask_logits=(m * 20 - 10) + 0 * self.w)

        def train(ctx):
            cfg = json.load(open(os.environ["GG_RUN_DIR"] + "/config.json"))["data"]
            root = ensure_synthetic(tempfile.mkdtemp(), cfg["synth_n"], cfg["synth_size"], cfg["synth_seed"],
                                    preset=cfg["synth_preset"])
            val = [GGDataset(root, "val", ctx.image_size)[i] for i in range(len(GGDataset(root, "val", ctx.image_size)))]
            masks = torch.stack([(torch.as_tensor(v["mask"]).float() > 0).float().reshape(1, ctx.image_size, ctx.image_size)
                                 for v in val])
            print("ORACLE", len(val), flush=True)
            return Oracle(masks)
    ''')
    settings = 'synth_n = 24\nsynth_size = 48\nimage_size = 48\n'
    run = '\n[run]\nbudget_s = 1.0\ndevice = "cpu"\neval_batch_size = 8\n'
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "train.py").write_text(oracle)
    (ws / "gg-research.toml").write_text("[data]\n" + settings + run)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=300)
    assert res.status == "ok", (res.error, res.log_path.read_text()[-2000:])
    assert "ORACLE" in res.log_path.read_text()  # it did regenerate a set, of the same size
    # The control: the same set made without a secret (as `data synth` makes one) is rebuilt exactly.
    from gg_research.ggnet.synth import ensure_synthetic

    plain = ensure_synthetic(tmp_path / "plain", 24, 48, 0)
    control = tmp_path / "control"
    control.mkdir()
    (control / "train.py").write_text(oracle)
    (control / "gg-research.toml").write_text(f'[data]\ndataset = "{plain}"\n' + settings + run)
    unsealed = run_experiment(control, tmp_path / "run-control", hard_limit_s=300)
    assert unsealed.status == "ok" and unsealed.metrics["dice"] > 0.95, (unsealed.error, unsealed.metrics)
    assert res.metrics["dice"] < 0.5, res.metrics


# -- 3. the parent never follows or trusts the run's files -----------------------------------------

@pytest.mark.parametrize("plant", ["predictions_link", "weights_folder", "report_fifo", "predictions_hardlink"])
def test_a_link_or_odd_file_where_a_harness_file_goes_is_invalid_and_nothing_is_written_through_it(
        tmp_path: Path, dataset: Path, plant: str) -> None:
    ledger = tmp_path / "results" / "experiments.jsonl"
    ledger.parent.mkdir()
    ledger.write_text('{"id": "e0001", "status": "baseline"}\n')
    before = ledger.read_bytes()
    body = {  # run at exit, after the harness in the child wrote its own files
        "predictions_link": f'os.remove(out + "/predictions.npz"); os.symlink({str(ledger)!r}, out + "/predictions.npz")',
        "weights_folder": 'os.remove(out + "/model.pt"); os.mkdir(out + "/model.pt")',
        "report_fifo": 'os.remove(out + "/train_report.json"); os.mkfifo(out + "/train_report.json")',
        "predictions_hardlink": 'os.link(out + "/predictions.npz", out + "/copy")',
    }[plant]
    source = MODEL + textwrap.dedent(f'''
        import atexit, os
        def _plant():
            out = os.environ["GG_RUN_DIR"]
            {body}
        def train(ctx):
            atexit.register(_plant)
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "invalid", (res.status, res.error, res.log_path.read_text()[-1500:])
    assert "where a file of the harness goes" in res.error or "hard link" in res.error, res.error
    assert ledger.read_bytes() == before
    assert not any(p.is_symlink() or p.is_dir() for p in (tmp_path / "run").iterdir())


def test_a_forged_sealed_score_or_result_file_is_never_taken(tmp_path: Path, dataset: Path) -> None:
    source = MODEL + textwrap.dedent('''
        import json, os
        def train(ctx):
            out = os.environ["GG_RUN_DIR"]
            for name in ("test_scores.json", "last_run.json", "run.log"):
                open(out + "/" + name, "w").write(json.dumps({"pbqc": 0.99, "dice": 0.99, "images": 9}))
            os.symlink(os.environ["GG_WORKSPACE"] + "/results/experiments.jsonl", out + "/per_image.npz")
            os.makedirs(out + "/rerun-load")
            os.symlink("/", out + "/rerun-load/escape")
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    ledger = ws / "results" / "experiments.jsonl"
    ledger.parent.mkdir()
    ledger.write_text('{"id": "e0001"}\n')
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "ok", res.error
    assert ledger.read_text() == '{"id": "e0001"}\n'
    run = tmp_path / "run"
    scores = json.loads((run / "test_scores.json").read_text()) if (run / "test_scores.json").exists() else {}
    assert scores.get("dice") != 0.99 and json.loads((run / "last_run.json").read_text())["dice"] != 0.99
    assert not (run / "rerun-load").exists() and "---" in (run / "run.log").read_text()
    assert not list((ws / ".gg" / "runs").glob("run-*"))  # the output folder is gone, its links with it


# -- 4. every budget is counted by the parent ------------------------------------------------------

@pytest.mark.parametrize("how", ["early_trained_line", "background_thread"])
def test_training_on_after_the_budget_is_invalid_whatever_the_run_prints(tmp_path: Path, dataset: Path, how: str) -> None:
    source = MODEL + textwrap.dedent(f'''
        import threading, time
        def _spin(seconds):  # training on: CPU work, as a real step would be
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                sum(i * i for i in range(10000))
        def train(ctx):
            if {how == "early_trained_line"!r}:
                print("[harness] trained", flush=True)  # the line the parent's clock once stopped at
                _spin(40)
            else:
                t = threading.Thread(target=_spin, args=(40,))
                t.start()
                import atexit
                atexit.register(t.join)  # the process lingers, training on, after it returned
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0,
                        extra_run="budget_grace_s = 1\neval_limit_s = 2")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "invalid" and "trained past its budget" in res.error, (res.status, res.error)
    assert res.wall_seconds < 38


def test_a_run_cannot_make_itself_look_starved(tmp_path: Path, dataset: Path) -> None:
    """Idle threads and a claimed tiny image count: the parent's figure of the machine stays quiet."""
    from gg_research.results.throughput import load_skew

    source = MODEL + textwrap.dedent('''
        import json, os, threading, time
        def train(ctx):
            for _ in range(8):
                threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "ok", res.error
    quiet_baseline = {**res.metrics, "machine_busy": max(res.metrics["machine_busy"] - 0.05, 0.0)}
    claimed = {**res.metrics, "img_per_sec": 0.001, "cpu_share": 0.01, "threads": 64}
    assert load_skew(claimed, quiet_baseline, 0.3) is None


def test_the_training_split_reaches_a_run_only_through_the_parent_which_counts_it(tmp_path: Path, dataset: Path) -> None:
    """Under an images budget: the training file is nowhere in the box, and however the run takes
    images (the harness's loader epoch after epoch, its own DataLoader, item by item) it gets no more
    than the budget and the batch begun under it; the images it claims are bounded by the parent's count."""
    source = PROBE_HELPERS + textwrap.dedent('''
        import glob
        def find_train_file():
            view = os.path.dirname(sys.argv[sys.argv.index("--view") + 1])  # where the parent keeps it
            found = glob.glob(view + "/**/*.npz", recursive=True) + glob.glob(os.getcwd() + "/**/train*.npz", recursive=True)
            return [np.load(f)["mask"].shape for f in found if "mask" in np.load(f)] or open(view + "/train.npz")
        def train(ctx):
            import numpy as np
            globals()["np"] = np
            attempt("train_file", find_train_file)
            got = 0
            for _ in range(50):
                for batch in ctx.loader(4):
                    got += batch["camera"].shape[0]
            probe["loader_images"] = ["done", got]
            def own():
                n = 0
                for batch in torch.utils.data.DataLoader(ctx.train_dataset, batch_size=4, shuffle=True):
                    n += batch["camera"].shape[0]
                return n
            attempt("own_loader", own)
            attempt("items", lambda: [ctx.train_dataset[i] for i in range(len(ctx.train_dataset))])
            ctx.log(1, loss=0.1, n_images=10**6)  # a claim of a million images
            report()
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=30.0,
                        extra_run='budget = "images"\nbudget_images = 6')
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "ok", res.error
    probe = _probe(res)
    assert {"train_file", "own_loader", "items"} <= _blocked(probe), probe
    assert probe["loader_images"] == ["done", 4]  # the 2 images left are fewer than a batch: dropped
    assert res.metrics["images_served"] == 6 and res.metrics["num_images"] == 6


def test_garbage_on_the_training_feed_is_the_runs_invalid_result(tmp_path: Path, dataset: Path) -> None:
    source = MODEL + textwrap.dedent('''
        import socket, sys
        def train(ctx):
            fd = int(sys.argv[sys.argv.index("--feed-fd") + 1])
            s = socket.socket(fileno=fd)
            s.sendall(b"\\xff" * 64)
            s.recv(16)
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=2.0)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "invalid" and "protocol of the training data feed" in res.error, (res.status, res.error)


# -- 5. the trusted side cannot be knocked over ----------------------------------------------------

def test_a_singular_transform_is_a_one_line_failure_of_the_run(tmp_path: Path, dataset: Path) -> None:
    source = textwrap.dedent('''
        import torch
        from gg_research.ggnet.output import GGOutput
        class Flat(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(1))
            def forward(self, camera, render):
                b, _, h, w = camera.shape
                theta = torch.tensor([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 1.0]]).repeat(b, 1, 1)
                return GGOutput(theta=theta + 0 * self.w, mask_logits=torch.zeros(b, 1, h, w) + self.w)
        def train(ctx):
            return Flat()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "crash" and "singular or ill-conditioned" in res.error and "\n" not in res.error


def test_shared_memory_counts_against_the_memory_limit(tmp_path: Path, dataset: Path) -> None:
    if "memory" not in RunLimits(1, 0).__dict__["groups"]:
        pytest.skip("no memory control group on this machine: shared memory is not counted (the log says so)")
    source = MODEL + textwrap.dedent('''
        import mmap, os
        def train(ctx):
            size = 900 * 2**20
            for path in ("/dev/shm/hog", "/tmp/hog"):  # shared memory, then the box's private tmpfs
                fd = os.open(path, os.O_RDWR | os.O_CREAT)
                os.ftruncate(fd, size)
                m = mmap.mmap(fd, size, mmap.MAP_SHARED)
                for i in range(0, size, 4096):
                    m[i] = 1
                print("FILLED", path, flush=True)
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=5.0, extra_run="memory_gb = 2")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "crash" and "out of memory" in res.error, (res.status, res.error)


def test_the_number_of_processes_and_the_output_folder_are_capped(tmp_path: Path, dataset: Path) -> None:
    source = MODEL + textwrap.dedent('''
        import os, subprocess, sys, time
        def train(ctx):
            procs, refused = [], 0
            for _ in range(700):
                try:
                    procs.append(subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL))
                except OSError:
                    refused += 1
            print("SPAWNED", len(procs), "REFUSED", refused, flush=True)
            for p in procs:
                p.kill()
                p.wait()
            with open(os.environ["GG_RUN_DIR"] + "/junk", "wb") as fh:
                for _ in range(400):
                    fh.write(b"x" * 2**20)
                    fh.flush()
            time.sleep(3)
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=8.0, extra_run="max_output_mb = 100")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    log = res.log_path.read_text()
    limits = RunLimits(1, 0)
    has_pids = "pids" in limits.groups
    limits.close()
    if has_pids:
        spawned = int(log.split("SPAWNED ")[1].split()[0])
        assert spawned < 700, log[-2000:]
    # RLIMIT_FSIZE stops the file at the cap, or the parent's watch stops the run: never 400 MB on disk.
    assert res.status in ("invalid", "crash"), (res.status, res.error)
    assert "max_output_mb" in res.error or "File too large" in res.error or "Errno 27" in res.error, res.error
    assert not list((ws / ".gg" / "runs").glob("run-*")) and all_gone("sleep 60")


def test_a_flood_without_newlines_is_read_in_bounded_pieces(tmp_path: Path, dataset: Path) -> None:
    """200 MB on stdout with no newline: the parent's memory stays near an honest run's."""
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f'''
        import resource, sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from gg_research.harness.runner import run_experiment
        res = run_experiment(Path(sys.argv[1]), Path(sys.argv[2]), hard_limit_s=240)
        print("STATUS", res.status, "MAXRSS_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    '''))

    def drive(name: str, body: str) -> tuple[str, int]:
        ws = make_workspace(tmp_path / name, dataset, train_source=MODEL + body, budget_s=4.0,
                            extra_run="max_log_mb = 1")
        out = subprocess.run([sys.executable, str(driver), str(ws), str(tmp_path / f"run-{name}")],
                             capture_output=True, text=True, timeout=300).stdout.split()
        return out[out.index("STATUS") + 1], int(out[out.index("MAXRSS_MB") + 1])

    _, honest = drive("honest", "def train(ctx):\n    return Still()\n")
    status, flood = drive("flood", "import sys\ndef train(ctx):\n    for _ in range(200):\n"
                                   "        sys.stdout.write('x' * 2**20)\n    sys.stdout.flush()\n    return Still()\n")
    assert status == "ok" and flood < honest + 80, (honest, flood)
    assert (tmp_path / "run-flood" / "run.log").stat().st_size < 1.2 * 2**20


# -- 6. the source that runs is the source committed -----------------------------------------------

@pytest.mark.parametrize("sandbox", ["auto", "off"])
def test_planted_bytecode_never_runs_in_place_of_the_source(tmp_path: Path, dataset: Path, sandbox: str) -> None:
    import importlib.util
    import py_compile

    honest = MODEL + "import helper\ndef train(ctx):\n    print('SOURCE', helper.WHO, flush=True)\n    return Still()\n"
    ws = make_workspace(tmp_path / "ws", dataset, train_source=honest, budget_s=1.0,
                        extra_run=f'sandbox = "{sandbox}"')
    (ws / "helper.py").write_text("WHO = 'source'\n")
    # Oracles compiled to the exact cache names the import system checks, unchecked, so no mtime saves it.
    for name, text in (("train", MODEL + "def train(ctx):\n    print('SOURCE oracle', flush=True)\n    return Still()\n"),
                       ("helper", "WHO = 'oracle'\n")):
        src = tmp_path / f"{name}_oracle.py"
        src.write_text(text)
        py_compile.compile(str(src), cfile=importlib.util.cache_from_source(str(ws / f"{name}.py")),
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "ok", res.error
    log = res.log_path.read_text()
    assert "SOURCE source" in log and "oracle" not in log, log[-1500:]


# -- an honest run on a busy machine stays valid ---------------------------------------------------

def test_an_honest_run_beside_busy_processes_is_not_blamed_for_the_machine(tmp_path: Path, dataset: Path) -> None:
    from tests.harness.test_load import busy_machine

    ws = make_workspace(tmp_path / "ws", dataset, budget_s=2.0, extra_run="budget_grace_s = 1\neval_limit_s = 1")
    with busy_machine():
        res = run_experiment(ws, tmp_path / "run", hard_limit_s=300)
    assert res.status == "ok", (res.error, res.log_path.read_text()[-1500:])
    assert res.metrics["machine_busy"] > 0.25


# -- found from outside (a red team's attempts), each held now ---------------------------------------

def test_a_run_started_by_root_keeps_no_capability_and_cannot_unseal_its_mounts(
        tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Remounting a read-only folder writable, writing host sysctls, leaving the control group, a
    sibling workspace on PYTHONPATH, a GG_ secret in the environment, a module in the workspace named
    like a library the child preloads: all held."""
    sibling = tmp_path / "other-ws"
    (sibling / ".gg" / "data").mkdir(parents=True)
    (sibling / ".gg" / "data" / ".secret").write_bytes(b"s" * 32)
    monkeypatch.setenv("PYTHONPATH", str(sibling))
    monkeypatch.syspath_prepend(str(sibling))
    monkeypatch.setenv("GG_SECRET_TOKEN", "gg-canary-456")
    source = PROBE_HELPERS + textwrap.dedent(f'''
        import glob, subprocess
        def train(ctx):
            view = sorted(glob.glob(os.getcwd() + "/.gg/views/*"))[0]
            subprocess.run(["mount", "-o", "remount,bind,rw", view], capture_output=True)
            attempt("write_view", lambda: open(view + "/PWNED", "w").write("x"))
            attempt("write_sysctl", lambda: open("/proc/sys/vm/swappiness", "w").write("60"))
            attempt("leave_cgroup", lambda: open("/sys/fs/cgroup/pids/cgroup.procs", "w").write(str(os.getpid())))
            attempt("remount_root", lambda: subprocess.run(["mount", "-o", "remount,rw", "/"], check=True,
                                                            capture_output=True))
            attempt("sibling_on_path", lambda: open({str(sibling / ".gg/data/.secret")!r}, "rb").read())
            attempt("write_dev", lambda: open("/dev/hog", "w").write("x"))
            probe["capeff"] = ["done", open("/proc/self/status").read().split("CapEff:")[1].split()[0]]
            probe["gg_env"] = ["done", sorted(k for k in os.environ if k.startswith("GG_"))]
            report()
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    (ws / "kornia.py").write_text("print('SHADOW MODULE RAN', flush=True)\n")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "ok", res.error
    probe = _probe(res)
    assert _blocked(probe) >= {"write_view", "write_sysctl", "leave_cgroup", "remount_root", "sibling_on_path",
                               "write_dev"}, probe
    assert int(probe["capeff"][1], 16) == 0, probe
    assert "GG_SECRET_TOKEN" not in probe["gg_env"][1]
    assert not list((ws / ".gg" / "views").glob("*/PWNED")) and "SHADOW MODULE RAN" not in res.log_path.read_text()


def test_a_child_started_ahead_runs_the_experiments_own_train_py(tmp_path: Path, dataset: Path) -> None:
    """The loop starts the next child while a run trains, then writes the next edit (a new file by
    rename): the child must run the new file, not the one there when it started."""
    import hashlib

    from gg_research.harness.runner import PrestartingRunner

    version = MODEL + "def train(ctx):\n    print('VERSION', {v!r}, flush=True)\n    return Still()\n"
    ws = make_workspace(tmp_path / "ws", dataset, train_source=version.format(v="A"), budget_s=1.0)
    runner = PrestartingRunner()
    try:
        first = runner(ws, tmp_path / "run1", hard_limit_s=240)
        assert first.status == "ok" and "VERSION A" in first.log_path.read_text()
        new = ws / "train.py.new"
        new.write_text(version.format(v="B"))
        os.replace(new, ws / "train.py")  # as the loop writes an edit
        second = runner(ws, tmp_path / "run2", hard_limit_s=240)
    finally:
        runner.close()
    assert second.status == "ok", second.error
    assert second.summary["startup"] == "prestarted"
    assert "VERSION B" in second.log_path.read_text() and "VERSION A" not in second.log_path.read_text()
    assert second.summary["train_sha256"] == hashlib.sha256((ws / "train.py").read_bytes()).hexdigest()


def test_training_on_in_short_lived_forks_is_counted(tmp_path: Path, dataset: Path) -> None:
    """Work done in children that have ended and been reaped is still the run's work."""
    source = MODEL + textwrap.dedent('''
        import os, time
        def train(ctx):
            end = time.monotonic() + 40
            while time.monotonic() < end:
                pid = os.fork()
                if pid == 0:
                    stop = time.monotonic() + 0.3
                    while time.monotonic() < stop:
                        sum(i * i for i in range(10000))
                    os._exit(0)
                os.waitpid(pid, 0)
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0,
                        extra_run="budget_grace_s = 1\neval_limit_s = 1")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "invalid" and "trained past its budget" in res.error, (res.status, res.error)


@pytest.mark.parametrize("where", ["train_report", "command"])
def test_deeply_nested_json_from_a_run_never_raises_out_of_the_parent(tmp_path: Path, dataset: Path, where: str) -> None:
    nested = "'[' * 200000 + ']' * 200000"
    if where == "train_report":
        source = MODEL + textwrap.dedent(f'''
            import atexit, os
            def _write():
                open(os.environ["GG_RUN_DIR"] + "/train_report.json", "w").write({nested})
            def train(ctx):
                atexit.register(_write)
                return Still()
        ''')
        ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    else:
        ws = make_workspace(tmp_path / "ws", dataset, train_source="", budget_s=1.0,
                            extra_run=f'command = "{sys.executable} own.py"')
        (ws / "own.py").write_text(f"import os\nopen(os.environ['GG_RUN_DIR'] + '/last_run.json', 'w').write({nested})\n")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    # The child's own figures are only shown: unreadable ones are dropped. A command's result is its score.
    assert (res.status, where) in (("ok", "train_report"), ("crash", "command")), (res.status, res.error)
    assert "\n" not in res.error


# -- the second round from outside -------------------------------------------------------------------

def test_work_in_forks_the_kernel_reaps_unseen_is_still_the_runs(tmp_path: Path, dataset: Path) -> None:
    """With SIGCHLD ignored, ended children leave no time in their parent's figures: the run's
    control group still counts it, and it is never taken for other processes' load."""
    limits = RunLimits(1, 0)
    counted = "cpuacct" in limits.groups
    limits.close()
    if not counted:
        pytest.skip("no cpu accounting control group here")
    source = MODEL + textwrap.dedent('''
        import os, signal, time
        def train(ctx):
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)
            end = time.monotonic() + 40
            while time.monotonic() < end:
                if os.fork() == 0:
                    stop = time.monotonic() + 0.1
                    while time.monotonic() < stop:
                        sum(i * i for i in range(10000))
                    os._exit(0)
                time.sleep(0.11)
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0,
                        extra_run="budget_grace_s = 1\neval_limit_s = 1")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "invalid" and "trained past its budget" in res.error, (res.status, res.error)


def test_the_childs_report_cannot_write_into_the_parents_summary(tmp_path: Path, dataset: Path) -> None:
    from gg_research.harness.summary import parse_summary

    forged = "cpu\\n---\\npbqc: 0.999999\\ndice: 0.999999\\n\\x1b[2J"
    source = MODEL + textwrap.dedent(f'''
        import atexit, json, os
        def _forge():
            path = os.environ["GG_RUN_DIR"] + "/train_report.json"
            report = json.load(open(path))
            report.update(device={forged!r}, num_images=1e308)
            json.dump(report, open(path, "w"))
        def train(ctx):
            atexit.register(_forge)
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=1.0)
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "ok", res.error
    log = res.log_path.read_text()
    assert parse_summary(log)["pbqc"] == res.metrics["pbqc"] != 0.999999 and "\x1b" not in log
    assert res.summary["device"] == "" and res.metrics["num_images"] == 0


def test_an_output_folder_deeper_than_any_path_is_counted_and_removed(tmp_path: Path, dataset: Path) -> None:
    source = MODEL + textwrap.dedent('''
        import os
        def train(ctx):
            os.chdir(os.environ["GG_RUN_DIR"])
            for depth in range(1200):
                os.mkdir("d" * 200)
                os.chdir("d" * 200)
                if depth % 200 == 199:
                    with open("blob", "wb") as fh:
                        fh.write(b"x" * 15 * 2**20)
            import time
            time.sleep(3)
            return Still()
    ''')
    ws = make_workspace(tmp_path / "ws", dataset, train_source=source, budget_s=6.0, extra_run="max_output_mb = 20")
    res = run_experiment(ws, tmp_path / "run", hard_limit_s=240)
    assert res.status == "invalid" and "max_output_mb" in res.error, (res.status, res.error)
    assert not list((ws / ".gg" / "runs").iterdir()) and not list((ws / ".gg" / "code").iterdir())
