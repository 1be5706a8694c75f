"""Red team of the one box (issue 30, item 3): what the box hides it hides by path. A `[run] readable`
folder that reaches the workspace by another path than its own (a bind mount of the folder above it:
a container's volume, a cluster's second mount of the same storage) is not seen to contain the
workspace, so its results/ and .gg/ are shown there, uncovered. Needs `mount --bind` (root, as in
the project's test container); skipped elsewhere."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from gg_research.harness.runner import run_experiment
from gg_research.harness.sandbox import bwrap_works
from tests.harness.standin import make_workspace
from tests.harness.test_box import PROBE_HELPERS, _blocked, _probe

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bwrap_works() is not None, reason=f"no sandbox here: {bwrap_works()}")]


@pytest.fixture
def second_path(tmp_path: Path):
    """`tmp_path/projects` mounted again at `tmp_path/view`."""
    (tmp_path / "projects").mkdir()
    view = tmp_path / "view"
    view.mkdir()
    if subprocess.run(["mount", "--bind", str(tmp_path / "projects"), str(view)], capture_output=True).returncode != 0:
        pytest.skip("mount --bind is not allowed here")
    yield view
    subprocess.run(["umount", str(view)], check=True)


def test_a_readable_folder_reaching_the_workspace_by_a_bind_mount_does_not_show_its_state(
        tmp_path: Path, dataset: Path, second_path: Path) -> None:
    ws = tmp_path / "projects" / "ws"
    twin = second_path / "ws"
    reads = {"results_by_own_path": ws / "results" / "experiments.jsonl",
             "results_by_bind": twin / "results" / "experiments.jsonl",
             "state_by_bind": twin / ".gg" / "notes.jsonl"}
    source = PROBE_HELPERS + "def train(ctx):\n" + "".join(
        f"    attempt({k!r}, lambda: open({str(v)!r}).read())\n" for k, v in reads.items()) + "    report()\n    return Still()\n"
    make_workspace(ws, dataset, train_source=source, budget_s=1.0, extra_run=f'readable = ["{second_path}"]')
    (ws / "results").mkdir()
    (ws / "results" / "experiments.jsonl").write_text("the ledger")
    (ws / ".gg").mkdir()
    (ws / ".gg" / "notes.jsonl").write_text("the notes")
    res = run_experiment(ws, ws / "results" / "runs" / "e0001", hard_limit_s=240)
    assert res.status == "ok", (res.error, Path(res.log_path).read_text()[-2000:])
    probe = _probe(res)
    assert set(reads) <= _blocked(probe), textwrap.shorten(str(probe), 400)
