"""The tables of how runs are judged and shown: [[objectives]], [keep] (the keep rule), [report]
and [export] (the trackers the night is logged to)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gg_research.config.section import Section


class ObjectiveConfig(Section):
    name: str = Field(description="Metric key in the run summary (e.g. pbqc, dice).")
    direction: Literal["maximize", "minimize"] = Field("maximize", description="Which way is better.")
    floor: float | None = Field(None, description="Absolute bound every kept run must respect (a minimum when maximising).")
    relative_floor: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Collapse guard: a kept run keeps at least this fraction of the baseline's value (maximising).",
    )
    epsilon: float | None = Field(None, ge=0, description="Noise margin; empty = 2x the baseline's measured sigma.")
    weight: float = Field(1.0, description="Weight in the scalar keep rule.")
    label: str | None = Field(None, description="Name shown in the report's tables and plots; empty = the name.")
    reference: float | None = Field(
        None, description="Hypervolume reference value in the report; empty = its collapse floor (the value a kept run "
                          "must not fall below), or the baseline's value under [report] hypervolume_reference = \"baseline\"."
    )

    def display(self) -> str:
        return self.label or self.name


def default_objectives() -> list[ObjectiveConfig]:
    return [
        ObjectiveConfig(name="pbqc", direction="maximize", relative_floor=0.8, label="PBQC"),
        ObjectiveConfig(name="dice", direction="maximize", relative_floor=0.8, label="Dice"),
    ]


class KeepSection(Section):
    rule: Literal["pareto", "scalar", "threshold"] = Field("pareto", description="How a run is judged against the kept ones.")
    primary: str = Field("dice", description="The objective the threshold rule maximises.")
    baseline_seeds: int = Field(3, ge=1, le=10, description="Runs of the unchanged baseline, to measure noise.")
    rerun_marginal: bool = Field(True, description="Re-run a win by less than 2 epsilon with another seed and judge the mean.")
    test: Literal["margin", "paired", "paired-all"] = Field(
        "margin",
        description="margin = a keep must beat the front by the seed-noise margin (epsilon); paired = that, and on the "
                    "same validation images it must beat its parent's first seed on some objective with the paired "
                    "bootstrap interval above 0 (at paired_level) and lose on none with the interval below 0; "
                    "paired-all = the same against every seed of its parent, so that one unlucky (collapsed) baseline "
                    "seed cannot make an unchanged train.py look better; its margin is min_epsilon (use it with 2 or more "
                    "baseline seeds: the demo uses 3 and paired_level 0.9).",
    )
    paired_level: float = Field(0.95, gt=0.5, lt=1, description="Confidence of the paired interval (keep.test and the report).")
    min_epsilon: float = Field(0.005, ge=0, description="Floor on the measured noise margin, so a lucky quiet baseline does not make eps zero.")
    max_slowdown: float | None = Field(
        None, gt=0, description="Largest allowed img_per_sec ratio baseline/run (e.g. 1.5); empty = unbounded."
    )
    max_memory_growth: float | None = Field(
        None, gt=0, description="Largest allowed peak-memory ratio run/baseline; empty = unbounded."
    )


class ReportSection(Section):
    hypervolume_reference: Literal["floors", "baseline"] = Field(
        "floors",
        description="The point the report's hypervolume is measured from, for objectives without their own "
                    "`reference`: floors = each objective's collapse floor (its floor or relative_floor against the "
                    "baseline; the baseline's value where it has none), so a kept trade-off adds area; baseline = the "
                    "baseline's values (a trade-off that loses on one objective then adds nothing).",
    )


EXPORTERS = ("mlflow", "tensorboard", "optuna")


class ExportSection(Section):
    to: list[Literal["mlflow", "tensorboard", "optuna"]] = Field(
        default_factory=list,
        description="Trackers the loop logs each experiment to as the night goes (as `gg-research export` does); "
                    "empty = none. Each needs its extra installed (pip install 'gg-research[mlflow]', ...).",
    )
    mlflow_uri: str = Field("", description="MLflow tracking URI; empty = a local SQLite store, results/mlflow.db.")
    tensorboard_dir: str = Field("", description="TensorBoard log folder; empty = results/tensorboard.")
    optuna_storage: str = Field("", description="Optuna storage URL; empty = sqlite:///results/optuna-export.db.")
