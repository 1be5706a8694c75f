"""The night in MLflow: an MLflow experiment per loop tag, a run per experiment.

Params are the experiment's knobs (the declared search space at its commit), metrics its objectives
and secondary figures, its training curves step metrics (`curve.<series>`); status, tag, commit,
parent, proposer and citations are tags, and the diff an artifact. The default store is a local
SQLite file with the artifacts beside it (MLflow's file store no longer takes new data by default);
a runs's `gg.experiment` tag makes exporting twice add nothing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from gg_research.config import Config
from gg_research.loop.errors import ExportError
from gg_research.loop.export import Exported
from gg_research.loop.export.night import NightRun
from gg_research.workspace_map import WorkspaceMap

if TYPE_CHECKING:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

BATCH = 1000  # MLflow's log_batch takes at most 1000 metrics a call
MAX_TAG = 5000  # characters of a tag value MLflow stores
_STATUS = {"baseline": "FINISHED", "keep": "FINISHED", "discard": "FINISHED", "crash": "FAILED", "invalid": "FAILED",
           "interrupted": "KILLED"}


def default_uri(workspace: Path) -> str:
    return f"sqlite:///{WorkspaceMap(workspace).mlflow_store}"


def write(workspace: Path, config: Config, runs: list[NightRun], target: str | None) -> Exported:
    import logging

    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    logging.getLogger("alembic").setLevel(logging.WARNING)  # the store's schema set-up talks at INFO
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    uri = target or config.export.mlflow_uri or default_uri(workspace)
    try:
        client = MlflowClient(tracking_uri=uri)
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds for a bad URI; one line says which
        raise ExportError(f"export mlflow: cannot open the tracking store {uri}: {' '.join(str(exc).split())[:200]}") from None
    added, present = [], 0
    experiments: dict[str, str] = {}
    for run in runs:
        exp_id = experiments.get(run.tag) or _experiment(client, workspace, run.tag)
        experiments[run.tag] = exp_id
        if client.search_runs([exp_id], filter_string=f"tags.`gg.experiment` = '{run.id}'", max_results=1):
            present += 1
            continue
        e = run.exp
        tags = {"gg.experiment": run.id, "gg.tag": run.tag, "gg.status": str(e.status), "gg.parent": e.parent or "",
                "gg.proposer": e.proposer, "gg.reason": e.reason, "gg.curve": run.reading,
                "gg.citations": "\n".join(run.citations()), "mlflow.source.git.commit": e.commit,
                "mlflow.note.content": e.hypothesis.get("rationale", "")}
        created = client.create_run(exp_id, start_time=run.millis(e.started_at), run_name=f"{run.id} {e.title}"[:250],
                                    tags={k: str(v)[:MAX_TAG] for k, v in tags.items() if v})
        rid = created.info.run_id
        when = run.millis(e.ended_at) or run.millis(e.started_at) or 0
        metrics = [Metric(k, v, when, 0) for k, v in {**e.aux, **e.metrics}.items() if math.isfinite(v)]
        metrics += _curve_metrics(run, run.millis(e.started_at) or when)
        params = [Param(str(k)[:250], str(v)[:6000]) for k, v in run.knobs.items()]
        client.log_batch(rid, tags=[RunTag("gg.title", e.title[:MAX_TAG])])
        for i in range(0, len(params), 100):  # MLflow's limit of params a call
            client.log_batch(rid, params=params[i:i + 100])
        for i in range(0, len(metrics), BATCH):
            client.log_batch(rid, metrics=metrics[i:i + BATCH])
        if run.diff is not None:
            client.log_artifact(rid, str(run.diff))
        client.set_terminated(rid, _STATUS.get(str(e.status), "FINISHED"), end_time=run.millis(e.ended_at))
        added.append(run.id)
    return Exported("mlflow", uri, added, present)


def _experiment(client: MlflowClient, workspace: Path, tag: str) -> str:
    name = f"gg-research/{tag}"
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    artifacts = WorkspaceMap(workspace).mlflow_artifacts.resolve()
    return client.create_experiment(name, artifact_location=artifacts.as_uri(),
                                    # a training experiment: the UI opens on its runs, not on GenAI traces
                                    tags={"gg.workspace": workspace.name, "gg.tag": tag,
                                          "mlflow.experimentKind": "custom_model_development"})


def _curve_metrics(run: NightRun, start: int) -> list[Metric]:
    """Each curve point as a step metric, timed by the parent's clock from the experiment's start."""
    from mlflow.entities import Metric

    if run.curve is None:
        return []
    out = []
    for name, values in run.curve.series.items():
        for step, seconds, value in zip(run.curve.step, run.curve.seconds, values):
            if value is not None and math.isfinite(value):
                out.append(Metric(f"curve.{name}", value, start + int(seconds * 1000), step))
    return out
