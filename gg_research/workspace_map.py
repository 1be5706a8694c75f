"""The map of a workspace, derived once: where each file gg-research reads or writes lies, the git
names it makes, and what a run's box must never show.

A workspace is the folder holding gg-research.toml, a git repository. gg-research keeps two
folders of its own there, both ignored by git: `.gg/`, runtime state (the knowledge base, the
trainer's views, the folders runs write to, the loop's lock, notes, Optuna studies), and
`results/`, what the nights leave (the ledger, one run folder per run, the reports). The
synthetic data, which holds the labels, lives outside it, in the user's data folder
(`data_home`). A parallel loop's worktree is a workspace of its own whose origin is the
workspace it was made from (`origin_workspace`).

Everything here is a name or a path: nothing is created, nothing of ours is imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "gg-research.toml"
STATE_DIR = ".gg"
RESULTS_DIR = "results"
GIT_DIR = ".git"
# The lines `init` and `adopt` add to .gitignore: gg-research's own folders.
IGNORED = (f"{STATE_DIR}/", f"{RESULTS_DIR}/")
KNOWLEDGE_STORE = f"{STATE_DIR}/chroma"  # the default of [knowledge] store, relative to the workspace

LEDGER_NAME = "experiments.jsonl"
TSV_NAME = "results.tsv"
ID_FILE = "id"  # .gg/id: the workspace's id, which names its synthetic data in data_home
DATA_HOME_ENV = "GG_DATA_HOME"

# The files of a run folder. The harness writes the first six and the loop and the report read
# them (neither may import the harness): its log, its summary, the training curves (the parent's
# record of what the run said while it trained: shown, never a measurement), the per-image
# evidence of the validation split, the sealed test split's scores and the trained weights.
RUN_LOG = "run.log"
SUMMARY_FILE = "last_run.json"
CURVES_FILE = "curves.json"
PER_IMAGE_FILE = "per_image.npz"
TEST_SCORES_FILE = "test_scores.json"
WEIGHTS_FILE = "model.pt"
# What the harness's child writes and the parent takes into the run folder after scoring them.
PREDICTIONS_FILE = "predictions.npz"  # theta (N,3,3), mask_logits (N,1,S,S) on the validation inputs
TEST_PREDICTIONS_FILE = "predictions_test.npz"  # the same, on the sealed test split's inputs
TRAIN_REPORT_FILE = "train_report.json"  # the child's own figures: steps, images, memory, versions
PATCH_FILE = "patch.diff"  # the experiment's change, written by the loop
WORKER_FILE = "worker.json"  # the Ray node and process that ran it (parallel loop)

# Git names: a loop's branch, the tag of each kept experiment, the side tags of rescued work.
BRANCH_PREFIX = "autoresearch/"
ADOPTED_BRANCH = "gg/adopted"


def branch(tag: str) -> str:
    """The branch of the loop named `tag`."""
    return f"{BRANCH_PREFIX}{tag}"


def tag_of_branch(name: str) -> str | None:
    """The loop tag whose branch `name` is, or None for any other branch."""
    return name.removeprefix(BRANCH_PREFIX) if name.startswith(BRANCH_PREFIX) else None


def keep_tag(tag: str, exp_id: str) -> str:
    """The git tag of a kept experiment of loop `tag`."""
    return f"gg/{tag}/{exp_id}"


def rescue_tag(tag: str, head: str) -> str:
    """The side tag that keeps commits a resumed loop found past its branch's recorded tip."""
    return f"gg/{tag}/rescued-{head[:7]}"


def _file_part(tag: str) -> str:
    return tag.replace("/", "_")  # a tag may hold a slash; a file name may not


@dataclass(frozen=True)
class RunFolder:
    """One run's folder, `results/runs/<id>` (or wherever `gg-research run --out` puts it)."""

    path: Path

    @property
    def log(self) -> Path:
        return self.path / RUN_LOG

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def curves(self) -> Path:
        return self.path / CURVES_FILE

    @property
    def per_image(self) -> Path:
        return self.path / PER_IMAGE_FILE

    @property
    def test_scores(self) -> Path:
        return self.path / TEST_SCORES_FILE

    @property
    def weights(self) -> Path:
        return self.path / WEIGHTS_FILE

    @property
    def patch(self) -> Path:
        return self.path / PATCH_FILE

    @property
    def worker(self) -> Path:
        return self.path / WORKER_FILE


@dataclass(frozen=True)
class WorkspaceMap:
    """Every path of the workspace at `root`."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    # -- .gg: runtime state -------------------------------------------------------------------------
    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def id_file(self) -> Path:
        return self.state / ID_FILE

    @property
    def legacy_data(self) -> Path:
        """Where versions before the data folder kept the synthetic set (moved out once)."""
        return self.state / "data"

    @property
    def views(self) -> Path:
        """The trainer's views of the dataset (inputs without labels), one folder per view."""
        return self.state / "views"

    @property
    def cache(self) -> Path:
        """The harness's cache of rendered G-code."""
        return self.state / "cache"

    @property
    def code_views(self) -> Path:
        """The folders a boxed run sees as its workspace, one per run."""
        return self.state / "code"

    @property
    def box_outputs(self) -> Path:
        """The folders runs write to, one per run, taken from into the run folder."""
        return self.state / "runs"

    @property
    def lock(self) -> Path:
        return self.state / "loop.lock"

    @property
    def notes(self) -> Path:
        return self.state / "notes.jsonl"

    @property
    def agent_steps(self) -> Path:
        return self.state / "agent-steps"

    def server_index(self, host: str) -> Path:
        """The keyword index of a knowledge base kept on a Chroma server at `host`."""
        return self.state / "bm25" / host

    def optuna_study(self, tag: str) -> Path:
        return self.state / f"optuna-{_file_part(tag)}.db"

    def applying(self, tag: str) -> Path:
        """The marker of an edit being applied by loop `tag` (a loop killed then is cleaned on resume)."""
        return self.state / f"applying-{_file_part(tag)}"

    def agent_edit(self, tag: str) -> Path:
        """An agent's edit between the check and the commit of its step."""
        return self.state / f"agent-edit-{_file_part(tag)}.patch"

    # -- results: what the nights leave -------------------------------------------------------------
    @property
    def results(self) -> Path:
        return self.root / RESULTS_DIR

    @property
    def ledger(self) -> Path:
        return self.results / LEDGER_NAME

    @property
    def tsv(self) -> Path:
        return self.results / TSV_NAME

    @property
    def runs(self) -> Path:
        return self.results / "runs"

    def run(self, run_id: str) -> RunFolder:
        return RunFolder(self.runs / run_id)

    @property
    def mlflow_store(self) -> Path:
        return self.results / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.results / "mlflow-artifacts"

    @property
    def tensorboard(self) -> Path:
        return self.results / "tensorboard"

    @property
    def optuna_export(self) -> Path:
        return self.results / "optuna-export.db"

    # -- beside it ----------------------------------------------------------------------------------
    def worktrees(self, setting: str = "") -> Path:
        """The folder of a parallel loop's worktrees (`[parallel] worktrees`; empty = WORKSPACE.worktrees
        beside the workspace, outside it, so a run's box can hide the workspace's state and show the worktree)."""
        if not setting:
            return self.root.parent / f"{self.root.name}.worktrees"
        base = Path(setting).expanduser()
        return base if base.is_absolute() else self.root / base


def data_home() -> Path:
    """The user's gg-research data folder: $GG_DATA_HOME, else $XDG_DATA_HOME/gg-research, else
    ~/.local/share/gg-research."""
    if os.environ.get(DATA_HOME_ENV):
        return Path(os.environ[DATA_HOME_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "gg-research"


def origin_workspace(workspace: Path) -> Path | None:
    """The workspace whose repository `workspace` is a linked worktree of, or None.

    A linked worktree's `.git` is a file naming its folder in the main repository's `.git`
    (`gitdir: .../.git/worktrees/NAME`), whose `commondir` leads back to that `.git`.
    """
    dotgit = Path(workspace) / GIT_DIR
    try:
        first = dotgit.read_text(encoding="utf-8").strip() if dotgit.is_file() else ""
    except (OSError, UnicodeDecodeError):
        return None
    if not first.startswith("gitdir:"):
        return None
    gitdir = Path(first.removeprefix("gitdir:").strip())
    gitdir = gitdir if gitdir.is_absolute() else Path(workspace) / gitdir
    try:
        common = (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    except (OSError, UnicodeDecodeError):
        return None
    return common.parent if common.name == GIT_DIR else None


def box_hidden(workspace: Path, dataset: Path | None = None) -> list[Path]:
    """What a run's box must never show, even inside a folder it may read: the state, the ledger and
    the repository of the workspace and, for a parallel loop's worktree, of the workspace it came
    from; every workspace's synthetic data (data_home); and `dataset`, the folder holding the
    labels, for a run of train.py (a `[run] command` reads its data itself)."""
    ws = Path(workspace).resolve()
    homes = [ws] + [main for main in [origin_workspace(ws)] if main is not None]
    hidden = [home / name for home in homes for name in (STATE_DIR, RESULTS_DIR, GIT_DIR)]
    hidden += [p.resolve() for p in (data_home(),) if p.exists()]
    return hidden + ([dataset.resolve()] if dataset is not None and dataset.exists() else [])
