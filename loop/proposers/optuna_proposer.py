"""Offline proposer: a multi-objective Optuna sampler over the declared search space.

The study lives in SQLite under `.gg/optuna-<tag>.db`, so a restarted loop resumes it.
"""

from __future__ import annotations

import math
import random
import warnings
import zlib
from pathlib import Path
from typing import Any

from gg_research.config import Config
from gg_research.loop.errors import ProposerError
from gg_research.loop.hypothesis import Edit, Hypothesis, ProposalMeta
from gg_research.loop.search_space import Param, parse_space
from gg_research.loop.state import LoopState
from gg_research.results.curves import Reading, budget_bound, experiment_reading
from gg_research.results.ledger import Experiment, Status
from gg_research.workspace_map import WorkspaceMap

# Changing one or two constants per experiment (not all at once) keeps each result
# attributable: a keep or a collapse says which constant did it, and the proposer (and the
# human reading the report) learn from it. Hill-climbing from the latest kept point with a
# TPE model per parameter suits a budget of tens of runs a night better than resampling all.
MAX_CHANGED = 2
MAX_EMPTY_TRIES = 20


def _fmt(p: Param, v: Any) -> str:
    return p.render(v)


def _suggest(trial: Any, p: Param) -> Any:
    if p.kind == "choice":
        return trial.suggest_categorical(p.key, list(p.args))
    if p.kind == "int":
        return trial.suggest_int(p.key, int(p.args[0]), int(p.args[1]))
    return trial.suggest_float(p.key, float(p.args[0]), float(p.args[1]), log=p.kind == "log")


class OptunaProposer:
    name = "optuna"
    wants_passages = False
    passages_k = 0
    checks_novelty = False  # its hypotheses are drawn or written by the researcher, not prose that may repeat

    def __init__(self, workspace: Path, config: Config, tag: str) -> None:
        import optuna
        from optuna.trial import TrialState

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.ws = Path(workspace)
        self.cfg = config
        files = {p: (self.ws / p).read_text(encoding="utf-8") for p in config.workspace.mutable
                 if (self.ws / p).is_file()}
        if not parse_space(files):
            raise ProposerError(
                f"{self.ws}: no '# search:' annotations on UPPERCASE constants in {', '.join(config.workspace.mutable)} "
                "(e.g. LR = 3e-4  # search: log(1e-5, 1e-2)); the optuna proposer needs a search space")
        db = WorkspaceMap(self.ws).optuna_study(tag)
        db.parent.mkdir(parents=True, exist_ok=True)
        self.db = db
        directions = [o.direction for o in config.objectives]
        self.study = optuna.create_study(study_name=f"gg-{tag}", storage=f"sqlite:///{db}", directions=directions,
                                         load_if_exists=True)
        n = len(self.study.trials)
        # A new sampler seed per tag and per restart, so neither another tag's study nor a
        # resumed one replays the same draws (they would be refused as repeated diffs).
        base_seed = config.run.seed + zlib.crc32(tag.encode()) % 100_000
        if config.proposer.sampler == "random":
            self.study.sampler = optuna.samplers.RandomSampler(seed=base_seed + n)
        else:
            # In a parallel loop, trials in flight count as if they had scored badly (constant liar), so
            # the next proposals spread out instead of crowding where a pending one already looks.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self.study.sampler = optuna.samplers.TPESampler(seed=base_seed + n, n_startup_trials=5, multivariate=False,
                                                                constant_liar=config.parallel.workers > 1)
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self.study.tell(t.number, state=TrialState.FAIL)  # in flight when the last loop died
        self._rng_seed = base_seed
        self._readings: dict[str, Reading | None] = {}  # what each told run's curve did, for its children

    def tell_baseline(self, record: Experiment) -> None:
        """Enqueue the baseline as the study's first complete trial (once)."""
        import optuna

        self._readings[record.id] = experiment_reading(self.ws, record)
        if any(t.user_attrs.get("experiment") == record.id for t in self.study.get_trials(deepcopy=False)):
            return
        params = parse_space(self._files_on_disk())
        inside = [p for p in params if p.contains(p.value)]
        values = self._values(record)
        if values is None:
            return
        self.study.add_trial(optuna.trial.create_trial(
            params={p.key: p.value for p in inside}, distributions={p.key: p.distribution() for p in inside},
            values=values, user_attrs={"experiment": record.id}))

    def _files_on_disk(self) -> dict[str, str]:
        return {p: (self.ws / p).read_text(encoding="utf-8") for p in self.cfg.workspace.mutable if (self.ws / p).is_file()}

    def _values(self, record: Experiment) -> list[float] | None:
        m = record.metrics
        vals = [m.get(o.name) for o in self.cfg.objectives]
        finite = [float(v) for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
        return finite if len(finite) == len(vals) else None

    def propose(self, state: LoopState, feedback: str | None) -> Hypothesis:
        from optuna.trial import TrialState

        space = parse_space(state.files)
        if not space:
            raise ProposerError("the mutable files no longer declare any '# search:' constant")
        for _ in range(MAX_EMPTY_TRIES):
            trial = self.study.ask()
            rng = random.Random(self._rng_seed * 100_003 + trial.number)
            chosen = rng.sample(space, min(len(space), rng.randint(1, MAX_CHANGED)))
            edits, changes = [], []
            for p in chosen:
                v = _suggest(trial, p)
                if v == p.value:
                    continue
                edits.append(Edit(path=p.path, search=p.line, replace=p.replaced_line(v)))
                before = _fmt(p, p.value) if p.contains(p.value) else repr(p.value)
                changes.append(f"{p.name} {before} -> {_fmt(p, v)}")
            if edits:
                return Hypothesis(
                    title=", ".join(changes),
                    rationale=f"Optuna {'random search' if self.cfg.proposer.sampler == 'random' else 'TPE'} trial "
                              f"{trial.number} (multi-objective) over the declared search space",
                    edits=edits, meta=ProposalMeta(trial=trial.number, proposer=self.name),
                )
            self.study.tell(trial, state=TrialState.FAIL)  # same values as now: nothing to try
        raise ProposerError(f"optuna proposed no change in {MAX_EMPTY_TRIES} trials; widen the '# search:' ranges")

    def tell(self, record: Experiment) -> None:
        from optuna.trial import TrialState

        number = record.proposer_info.get("trial")
        if number is None:
            return
        trial = next((t for t in self.study.get_trials(deepcopy=False) if t.number == number), None)
        if trial is None or trial.state != TrialState.RUNNING:
            return
        values = self._values(record) if record.status in (Status.KEEP, Status.DISCARD) else None
        reading = self._readings[record.id] = experiment_reading(self.ws, record)
        if record.status is Status.DISCARD and budget_bound(reading, self._readings.get(record.parent or "")):
            # Cut short by the budget, not beaten: its values would teach the sampler that these knobs
            # are bad. A failed trial is left out of the model, so they are neither good nor bad.
            values = None
        if values is None:
            self.study.tell(number, state=TrialState.FAIL)
        else:
            self.study.tell(number, values)
