"""Starting the child that runs train.py: in the sandbox, with the data view loaded, waiting.

A child is started ahead of its run (the loop starts the next one while the current run
trains, so start-up leaves the iteration's critical path); a cold run starts one and uses it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from gg_research.config import Config
from gg_research.harness.box import RunBox, run_limits
from gg_research.harness.feed import FeedServer, pair
from gg_research.harness.outputs import discard
from gg_research.harness.process import ChildProcess
from gg_research.harness.sandbox import child_env
from gg_research.workspace_map import WorkspaceMap


class HarnessChild:
    """A harness child started ahead of its run: libraries imported, the data view loaded.

    The loop starts the next one while the current run trains, so start-up leaves the
    iteration's critical path; a cold run starts one and uses it at once.
    """

    def __init__(self, workspace: Path, config: Config, view_dir: Path, dataset: Path | None) -> None:
        """`view_dir`: the trainer's view (harness.scorer.TrainerView's folder): the box holds its
        inputs only; the training split is served through `feed`. `dataset`: the folder of the
        labels, which the box never shows (harness.box)."""
        from gg_research.harness.scorer import TrainerView

        self.workspace = Path(workspace).resolve()
        self.key = config_key(config, view_dir)
        inputs = TrainerView(view_dir).inputs
        runs = WorkspaceMap(self.workspace).box_outputs
        runs.mkdir(parents=True, exist_ok=True)
        self.out = Path(tempfile.mkdtemp(prefix="run-", dir=runs))
        config_json = self.out / "config.json"
        config_json.write_text(config.model_dump_json(indent=2), encoding="utf-8")
        # -P: the workspace is not on the import path before the run starts (a module there named
        # like a library the child preloads would run off the clock); the child adds it at go.
        ours, theirs = pair()
        self.feed = FeedServer(ours)
        argv = [sys.executable, "-P", "-m", "gg_research.harness.child", "--workspace", str(self.workspace),
                "--view", str(inputs), "--out", str(self.out), "--config", str(config_json),
                "--feed-fd", str(theirs.fileno())]
        self.box = RunBox(self.workspace, config, out=self.out, inputs=(inputs,), dataset=dataset)
        env = child_env({"GG_WORKSPACE": str(self.workspace), "GG_RUN_DIR": str(self.out)}, self.box.home)
        try:
            self.child = ChildProcess(self.box.wrap(argv), cwd=self.workspace, env=env, limits=run_limits(config),
                                      max_log_bytes=int(config.run.max_log_mb * 2**20), stdin=True,
                                      pass_fds=(theirs.fileno(),))
        except BaseException:
            self.feed.close()
            self.box.close()
            raise
        finally:
            theirs.close()  # the child holds its end; when it exits, the feed ends

    def usable_for(self, config: Config, view_dir: Path) -> bool:
        return self.child.alive() and self.key == config_key(config, view_dir)

    def stage(self) -> None:
        """Put the workspace's code, as it is now, where the boxed child will read it at go."""
        self.box.stage()

    def close(self) -> None:
        try:
            self.child.close()
        finally:
            self.feed.close()
            discard(self.out)
            self.box.close()


def config_key(config: Config, view_dir: Path) -> str:
    """What a prestarted child was started with: the config but the per-run budget and seed."""
    data = config.model_dump(mode="json")
    data["run"].pop("budget_s", None)
    data["run"].pop("seed", None)
    return json.dumps({"config": data, "view": str(view_dir)}, sort_keys=True)
