"""The night as an Optuna study, so `optuna-dashboard` shows it: a study per loop tag, a trial per
experiment, its knobs as params (with the search space's distributions).

A kept run (and the baseline) is a complete trial valued by the objectives, so the study's Pareto
front (`best_trials`) is the report's front; a discarded run is a pruned trial (the keep rule
stopped it there) with its figures as user attributes; a crash or an invalid run a failed one.
A trial's `experiment` attribute makes exporting twice add nothing.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.loop.errors import ExportError
from gg_research.loop.export import Exported
from gg_research.loop.export.night import NightRun
from gg_research.workspace_map import WorkspaceMap


def default_storage(workspace: Path) -> str:
    return f"sqlite:///{WorkspaceMap(workspace).optuna_export}"


def write(workspace: Path, config: Config, runs: list[NightRun], target: str | None) -> Exported:
    import optuna
    from optuna.trial import TrialState, create_trial

    from gg_research.loop.search_space import parse_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = target or config.export.optuna_storage or default_storage(workspace)
    names = [o.name for o in config.objectives]
    directions = [o.direction for o in config.objectives]
    files = {p: (workspace / p).read_text(encoding="utf-8") for p in config.workspace.mutable if (workspace / p).is_file()}
    try:
        space = {p.key: p for p in parse_space(files)}
    except Exception:  # noqa: BLE001 - a space that no longer parses: the knobs go without distributions
        space = {}
    added, present = [], 0
    studies: dict[str, Any] = {}
    for run in runs:
        study = studies.get(run.tag)
        if study is None:
            try:
                study = optuna.create_study(study_name=f"gg-research-{run.tag}", storage=storage, directions=directions,
                                            load_if_exists=True)
            except ValueError as exc:  # an existing study with other directions
                raise ExportError(f"export optuna: {storage}: {exc}") from None
            with warnings.catch_warnings():  # experimental in Optuna 3 and 4; the dashboard names its axes by it
                warnings.simplefilter("ignore")
                study.set_metric_names(names)
            studies[run.tag] = study
        if any(t.user_attrs.get("experiment") == run.id for t in study.get_trials(deepcopy=False)):
            present += 1
            continue
        e = run.exp
        params = {k: v for k, v in run.knobs.items() if k in space and space[k].contains(v)}
        values = [v for v in (e.metrics.get(n) for n in names) if isinstance(v, float) and math.isfinite(v)]
        measured = e.status.measured and len(values) == len(names)
        state = TrialState.COMPLETE if measured and e.status.kept else (
            TrialState.PRUNED if measured else TrialState.FAIL)
        attrs = {"experiment": run.id, "title": e.title, "status": str(e.status), "parent": e.parent or "",
                 "commit": e.commit, "reason": e.reason, "curve": run.reading, "citations": run.citations(),
                 **{f"metric:{k}": v for k, v in {**e.aux, **e.metrics}.items() if math.isfinite(v)}}
        study.add_trial(create_trial(
            state=state, values=values if state == TrialState.COMPLETE else None, params=params,
            distributions={k: space[k].distribution() for k in params}, user_attrs=attrs,
            intermediate_values=_intermediate(run) if state == TrialState.PRUNED else None))
        added.append(run.id)
    return Exported("optuna", storage, added, present)


def _intermediate(run: NightRun) -> dict[int, float] | None:
    """A pruned trial's training loss by step (the dashboard draws it as the trial's learning curve)."""
    primary = run.curve.primary() if run.curve is not None else None
    if run.curve is None or primary is None:
        return None
    values = run.curve.series[primary]
    found = {s: v for s, v in zip(run.curve.step, values) if v is not None and math.isfinite(v)}
    return found or None
