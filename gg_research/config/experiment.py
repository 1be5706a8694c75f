"""The tables of what one experiment is and how it runs: [workspace] (what the loop may edit),
[data], [run] (budget, box, limits, an own command) and [parallel] (experiments in flight)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from gg_research.config.section import Section

# The figures the harness reports for every run of train.py: the objectives a harness-evaluated
# workspace may optimise. (A `[run] command` reports its own.) The harness's summary follows it.
HARNESS_METRICS: tuple[str, ...] = ("pbqc", "dice", "training_seconds", "total_seconds", "eval_seconds",
                                    "num_steps", "img_per_sec", "peak_memory_mb", "num_params_M")


class WorkspaceSection(Section):
    mutable: list[str] = Field(
        default_factory=lambda: ["train.py"],
        description="Files (relative to the workspace) the loop may edit; everything else is frozen.",
    )
    brief: str = Field("program.md", description="The research brief that goes into every prompt.")


class DataSection(Section):
    dataset: str = Field(
        "",
        description="Dataset folder (manifest.jsonl, images/, masks/, gcode/); empty = the built-in synthetic set.",
    )
    image_size: int = Field(128, ge=32, le=2048, description="Side in pixels that images, renders and masks are resized to.")
    synth_n: int = Field(400, ge=8, description="Samples in the synthetic dataset (train/val/test split 70/20/10).")
    synth_size: int = Field(128, ge=32, le=2048, description="Side in pixels of generated synthetic images.")
    synth_seed: int = Field(0, description="Seed of the synthetic generator (same seed, same bytes).")
    synth_preset: Literal["easy", "realistic", "hard", "dimensional"] = Field(
        "easy",
        description="Synthetic camera: easy (flat colours, high-contrast defects), realistic (a photo of the top layer), "
                    "hard (realistic, wider misalignment, lower contrast), dimensional (realistic's camera; most defects "
                    "are edges printed a bead or two out of place, which only the aligned G-code reveals).",
    )
    bead_width_mm: float = Field(0.45, gt=0, le=5, description="Extrusion width used when rendering G-code.")


class RunSection(Section):
    budget: Literal["time", "images"] = Field(
        "time",
        description="What a run's budget counts: time = train for budget_s seconds (a change that makes training "
                    "faster earns more steps, so speed is rewarded with quality; figures depend on how busy the machine "
                    "is); images = train on budget_images images (equal work whatever the load; budget_s is then the "
                    "time cap of training).",
    )
    budget_s: float = Field(300.0, gt=0, description="Training time budget in seconds (start-up and evaluation not counted).")
    budget_images: int = Field(0, ge=0, description="Images a run trains on when budget = images (batches are drawn until the count reaches it).")
    load_tolerance: float = Field(
        0.3, gt=0, lt=1,
        description="A run during which other processes used this share of the CPUs more than during the baseline "
                    "(measured by the harness, outside the run) is flagged as load-skewed; the loop re-runs it once.",
    )
    hard_limit_s: float = Field(
        0.0,
        ge=0,
        description="Wall-clock limit of one run, after which it is killed as a crash; 0 = 2x budget + 120 s.",
    )
    seed: int = Field(0, description="Seed of the first run; repeats use seed+1, seed+2, ...")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    command: str = Field(
        "",
        description="Optional command that replaces train.py, run without a shell (no '> run.log': its output goes to the "
                    "run's run.log anyway). It writes $GG_RUN_DIR/last_run.json, or prints a summary: a line '---', then "
                    "one 'key: value' a line (val_bpb: 0.9979), the objectives among them.",
    )
    summary_log: str = Field(
        "",
        description="Where a command without last_run.json prints its '---' summary: the name of a file it writes in "
                    "$GG_RUN_DIR (no folder; a link is not followed); empty = its own output (run.log).",
    )
    eval_batch_size: int = Field(32, ge=1, description="Batch size of the harness's validation pass.")
    prestart: bool = Field(
        True,
        description="Loop only: start the next run's process (imports, data) while the current one trains, so start-up is off the critical path.",
    )

    sandbox: Literal["auto", "bwrap", "off"] = Field(
        "auto",
        description="Isolation of a run: auto = bubblewrap when it works here (no network, writes only to the run "
                    "folder, no workspace state or labels visible), else a warning; bwrap = refuse to run without it; "
                    "off = no isolation (warned).",
    )
    readable: list[str] = Field(
        default_factory=list,
        description="Extra folders a boxed run may read (read-only), e.g. a data cache a [run] command needs; "
                    "relative to the workspace or absolute. Nothing else of the machine is in the box.",
    )
    memory_gb: float = Field(0.0, ge=0, description="Memory limit of a run in GiB; 0 = 80 % of this machine's memory.")
    max_output_mb: float = Field(
        2048.0, gt=0,
        description="Most a run may write to its output folder (weights, predictions); a run over it is stopped as invalid.",
    )
    max_log_mb: float = Field(50.0, gt=0, description="run.log is cut at this size (the run goes on).")
    budget_grace_s: float = Field(0.0, ge=0, description="Training may end this late after its budget (a step in "
                                                         "flight); 0 = max(5 s, 5 % of the budget).")
    eval_limit_s: float = Field(
        0.0, ge=0,
        description="Time the predictions may take after the budget and its grace; 0 = max(5 s, 10 % of the budget). "
                    "The parent's clock runs until it has the predictions: a run over budget + grace + this is invalid.",
    )

    @model_validator(mode="after")
    def _summary_log_inside_run_folder(self) -> RunSection:
        # A plain name: a folder in the path could be a link the run made to somewhere else.
        if self.summary_log and (Path(self.summary_log).name != self.summary_log or self.summary_log in (".", "..")):
            raise ValueError(f"summary_log: {self.summary_log!r} must be a file name in the run folder ($GG_RUN_DIR), "
                             "without a folder")
        return self

    @model_validator(mode="after")
    def _images_budget_needs_a_count(self) -> RunSection:
        if self.budget == "images" and self.budget_images <= 0:
            raise ValueError('budget = "images" needs budget_images > 0 (the images each run trains on)')
        return self

    def grace(self, budget_s: float) -> float:
        return self.budget_grace_s if self.budget_grace_s > 0 else max(5.0, 0.05 * budget_s)

    def eval_limit(self, budget_s: float) -> float:
        return self.eval_limit_s if self.eval_limit_s > 0 else max(5.0, 0.1 * budget_s)

    def effective_hard_limit(self, budget_s: float | None = None) -> float:
        """The wall-clock limit of a run under `budget_s` (the configured budget by default)."""
        budget = self.budget_s if budget_s is None else budget_s
        return self.hard_limit_s if self.hard_limit_s > 0 else 2 * budget + 120.0


class ParallelSection(Section):
    workers: int = Field(
        1, ge=1, le=256,
        description="Experiments in flight at once. 1 = the serial loop (no Ray needed); more runs them as Ray tasks, "
                    "each in its own git worktree (pip install 'gg-research[parallel]').",
    )
    address: str = Field(
        "",
        description="Ray cluster to run on (e.g. ray://head:10001 or auto); empty = RAY_ADDRESS if set, else a Ray "
                    "started inside the loop on this machine. Every node must see the workspace at the same path.",
    )
    gpus_per_run: float | None = Field(
        None, ge=0,
        description="GPUs each run reserves (0.5 packs two runs on one GPU); empty = the cluster's GPUs shared "
                    "evenly by the workers, at most 1 each, and 0 on a machine without one.",
    )
    cpus_per_run: float | None = Field(
        None, gt=0,
        description="CPU cores each run reserves (its torch threads); empty = the cluster's cores shared evenly.",
    )
    worktrees: str = Field(
        "",
        description="Folder of the experiments' worktrees; empty = WORKSPACE.worktrees beside the workspace (outside "
                    "it, so a run's box can hide the workspace's state and still show the worktree).",
    )
