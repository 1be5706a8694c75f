"""The overnight loop: propose -> apply -> commit -> run -> decide -> keep or revert -> log."""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gg_research.config import Config
from loop import integrity, keep
from loop.apply import check_edits, content_hash, mutable_contents, write_files
from loop.errors import EditRefused, LoopSetupError, ProposerExhausted
from loop.git import Git
from loop.hypothesis import Hypothesis
from loop.ledger import Ledger
from loop.lock import LoopLock
from loop.resume import applying_marker, prepare_branch
from loop.runner import RunFn, close_run_fn, default_run_fn
from loop.state import LoopState
from loop.ui import LoopUI

# Harness figures that are settings or identities, not measurements of the run.
NOT_AUX = ("seed", "budget_s")


@dataclass
class Options:
    tag: str
    budget_s: float | None = None
    max_experiments: int | None = None
    until: datetime | None = None
    baseline_seeds: int | None = None
    write_report: bool = True


@dataclass
class Timings:
    """Where an iteration's wall time went (the benchmark reads these)."""
    proposal: float = 0.0
    apply_commit: float = 0.0
    run: float = 0.0
    decision: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


class LoopEngine:
    def __init__(self, workspace: Path, config: Config, options: Options, proposer_factory,
                 run_fn: RunFn | None = None, ui: LoopUI | None = None) -> None:
        self.ws = Path(workspace).resolve()
        self.cfg = config
        self.opt = options
        self.tag = options.tag
        self.branch = f"autoresearch/{options.tag}"
        self.git = Git(self.ws)
        self.ledger = Ledger(self.ws)
        self.run_fn = run_fn or default_run_fn(config)
        self.ui = ui or LoopUI()
        self.mutable = list(config.workspace.mutable)
        self.budget = options.budget_s if options.budget_s is not None else config.run.budget_s
        hard = config.run.hard_limit_s
        self.hard_limit = hard if hard > 0 else 2 * self.budget + 120.0
        self._proposer_factory = proposer_factory
        self.proposer = None
        self._searcher: Any = None
        self.timings: list[Timings] = []
        self._objectives = [o.name for o in config.objectives]
        self._done = 0

    # -- records of this tag -------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        return [r for r in self.ledger.read() if r.get("tag") == self.tag]

    def finished(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("status") not in (None, "running")]

    def last_kept(self) -> dict[str, Any] | None:
        return next((r for r in reversed(self.finished()) if r.get("status") in ("baseline", "keep")), None)

    def baseline(self) -> dict[str, Any] | None:
        return next((r for r in reversed(self.finished()) if r.get("status") == "baseline"), None)

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> int:
        previous = None
        try:
            previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        except ValueError:  # not the main thread (tests drive the engine from threads)
            pass
        try:
            with LoopLock(self.ws):
                return self._run_locked()
        except KeyboardInterrupt:
            self._clean_after_interrupt()
            self.ui.say("loop interrupted: the running experiment (if any) was recorded as interrupted and the branch reset")
            return 130
        finally:
            close_run_fn(self.run_fn)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _clean_after_interrupt(self) -> None:
        """A Ctrl-C between writing the edits and the start record leaves files only the loop wrote."""
        marker = applying_marker(self.ws, self.tag)
        kept = self.last_kept() if marker.exists() else None
        if kept is not None and self.git.current_branch() == self.branch:
            self.git.reset_hard(kept["commit"])
        marker.unlink(missing_ok=True)

    def _run_locked(self) -> int:
        if not self.git.is_repo():
            raise LoopSetupError(f"{self.ws}: not a git repository (make the workspace with 'gg-research init')")
        # The proposer first: a bad script or search space is refused before any branch is made.
        self.proposer = self._proposer_factory(self)
        for line in prepare_branch(self):
            self.ui.say(line)
        if self.baseline() is None:
            self._run_baseline()
        while True:
            why = self._stop_reason()
            if why:
                self.ui.say(f"loop stopped: {why}")
                return 0
            try:
                self._experiment()
            except ProposerExhausted as exc:
                self.ui.say(f"loop stopped: {exc}")
                return 0

    def _stop_reason(self) -> str | None:
        if self.opt.max_experiments is not None and self._done >= self.opt.max_experiments:
            return f"{self._done} experiments done (--max-experiments)"
        if self.opt.until is not None:
            # Do not start a run that cannot finish before the deadline.
            left = (self.opt.until - datetime.now(self.opt.until.tzinfo)).total_seconds()
            if left < self.budget:
                return f"--until {self.opt.until:%H:%M} reached (not enough time for another {self.budget:g} s run)"
        return None

    # -- baseline ---------------------------------------------------------------------------------
    def _run_baseline(self) -> None:
        n = self.opt.baseline_seeds or self.cfg.keep.baseline_seeds
        exp_id = self.ledger.next_id()
        commit = self.git.head()
        files = mutable_contents(self.ws, self.mutable)
        run_dir = self.ws / "results" / "runs" / exp_id
        self.ledger.start({
            "id": exp_id, "tag": self.tag, "parent": None, "parent_commit": commit, "commit": commit,
            "title": "baseline", "hypothesis": {"title": "baseline", "edits": []}, "passages": [],
            "proposer": "baseline", "content_hash": content_hash(files),
            "log": _rel(self.ws, run_dir / "run.log"), "frozen": integrity.frozen_fingerprint(self.ws, self.cfg),
        })
        try:
            seeds = []
            for i in range(n):
                seed = self.cfg.run.seed + i
                rd = run_dir if i == 0 else run_dir / f"seed{seed}"
                self.ui.start(exp_id, f"baseline seed {seed} ({i + 1}/{n})", self.budget)
                try:
                    res = self.run_fn(self.ws, rd, config=self.cfg, budget_s=self.budget, seed=seed,
                                      hard_limit_s=self.hard_limit)
                finally:
                    self.ui.stop()
                seeds.append(_seed_run(res, seed, self.ws, self._objectives))
                bad = _non_finite(res, self.cfg)
                if res.status != "ok" or bad:
                    reason = f"baseline seed {seed} {res.status if not bad else 'crash'}: {res.error or 'non-finite ' + bad}"
                    self._end(exp_id, "crash", "baseline", reason, seeds, commit=commit, title="baseline")
                    raise LoopSetupError(f"{_rel(self.ws, res.log_path)}: {reason}; fix train.py or the config and run again")
        except KeyboardInterrupt:
            self._end(exp_id, "interrupted", "interrupted", "stopped by the user (Ctrl-C)", [], commit=commit, title="baseline")
            raise
        frozen = _frozen_of(res)
        metrics = keep.mean_metrics([s["metrics"] for s in seeds])
        sig = keep.sigmas([s["metrics"] for s in seeds], [o.name for o in self.cfg.objectives])
        eps = keep.epsilons(self.cfg, sig)
        self.git.tag(f"gg/{self.tag}/{exp_id}", commit)
        fields = {"sigma": sig, "epsilon": eps}
        if frozen:
            fields["frozen"] = frozen
        self._end(exp_id, "baseline", "baseline", f"{n} seed(s); eps " + ", ".join(f"{k} {v:.4f}" for k, v in eps.items()),
                  seeds, metrics=metrics, commit=commit, title="baseline", extra=fields)

    # -- one experiment ------------------------------------------------------------------------
    def _state(self, passages: list[Any]) -> LoopState:
        base = self.baseline() or {}
        return LoopState(
            workspace=self.ws, tag=self.tag, config=self.cfg, brief=self._brief(),
            files=mutable_contents(self.ws, self.mutable), records=self.finished(),
            eps=dict(base.get("epsilon") or {}), passages=passages,
        )

    def _brief(self) -> str:
        path = self.ws / self.cfg.workspace.brief
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    def _experiment(self) -> None:
        t = Timings()
        t0 = time.monotonic()
        kept = self.last_kept()
        assert kept is not None
        self.git.reset_hard(kept["commit"])
        passages = self._passages() if getattr(self.proposer, "wants_passages", False) else []
        state = self._state(passages)
        feedback: str | None = None
        seen = {r["content_hash"] for r in self.ledger.read() if r.get("content_hash")}
        for attempt in range(self.cfg.proposer.max_refusals + 1):
            tp = time.monotonic()
            hyp = self.proposer.propose(state, feedback)
            t.proposal += time.monotonic() - tp
            parent = self._parent_of(hyp, state) or kept
            if parent["commit"] != self.git.head():
                self.git.reset_hard(parent["commit"])
            ta = time.monotonic()
            try:
                applied = check_edits(self.ws, hyp, self.mutable, seen)
            except EditRefused as exc:
                t.apply_commit += time.monotonic() - ta
                self._refused(hyp, parent, exc.reason, passages)
                feedback = exc.reason
                if parent["commit"] != kept["commit"]:
                    self.git.reset_hard(kept["commit"])
                state = self._state(passages)
                continue
            break
        else:
            self._done += 1  # a proposer that keeps failing still uses up a slot, so the loop moves on
            return
        marker = applying_marker(self.ws, self.tag)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        write_files(self.ws, applied)
        commit = self.git.commit(sorted(applied.files), hyp.title)
        exp_id = self.ledger.next_id()
        run_dir = self.ws / "results" / "runs" / exp_id
        run_dir.mkdir(parents=True, exist_ok=True)
        diff_path = run_dir / "patch.diff"
        diff_path.write_text(self.git.diff(parent["commit"], commit), encoding="utf-8")
        t.apply_commit += time.monotonic() - ta
        self.ledger.start({
            "id": exp_id, "tag": self.tag, "parent": parent["id"], "parent_commit": parent["commit"], "commit": commit,
            "title": hyp.title, "hypothesis": self._hyp_record(hyp), "passages": [_citation(p) for p in passages]
            + list(hyp.meta.get("passages", [])), "proposer": hyp.meta.get("proposer", self.proposer.name),
            "proposer_info": {k: v for k, v in hyp.meta.items() if k not in ("passages", "proposer")},
            "content_hash": applied.content_hash, "diff": _rel(self.ws, diff_path), "log": _rel(self.ws, run_dir / "run.log"),
        })
        marker.unlink(missing_ok=True)
        try:
            self._run_and_decide(exp_id, hyp, parent, commit, run_dir, t)
        except KeyboardInterrupt:
            self._end(exp_id, "interrupted", "interrupted", "stopped by the user (Ctrl-C)", [], commit=commit, title=hyp.title)
            self.git.reset_hard(kept["commit"])
            raise
        self._done += 1
        t.extra["total"] = time.monotonic() - t0
        self.timings.append(t)

    def _run_and_decide(self, exp_id: str, hyp: Hypothesis, parent: dict, commit: str, run_dir: Path, t: Timings) -> None:
        base = self.baseline()
        kept = self.last_kept()
        problem = integrity.commit_problem(self.git, parent["commit"], commit, self.mutable)
        if problem is None:
            problem = integrity.fingerprint_problem(base.get("frozen"), integrity.frozen_fingerprint(self.ws, self.cfg))
        seeds: list[dict[str, Any]] = []
        if problem is None:
            seed = self.cfg.run.seed
            tr = time.monotonic()
            res = self._run_seed(exp_id, hyp.title, run_dir, seed)
            t.run += time.monotonic() - tr
            t.extra.update(_phase_times(res))
            seeds.append(_seed_run(res, seed, self.ws, self._objectives))
            problem = integrity.worktree_problem(self.git) or integrity.fingerprint_problem(
                base.get("frozen"), (res.summary or {}).get("frozen"))
        td = time.monotonic()
        if problem is not None:
            self._finish(exp_id, hyp, "invalid", "invalid", problem, seeds, kept, commit)
            t.decision += time.monotonic() - td
            return
        bad = _non_finite(res, self.cfg)
        if res.status != "ok" or bad:
            reason = f"{res.status}: {res.error}" if res.status != "ok" else f"crash: non-finite {bad} (NaN or exploding loss)"
            seeds[-1]["status"] = "crash"
            self._finish(exp_id, hyp, "crash", "crash", reason, seeds, kept, commit)
            t.decision += time.monotonic() - td
            return
        front = [r["metrics"] for r in self.finished() if r.get("status") in ("baseline", "keep")]
        eps = base.get("epsilon") or keep.epsilons(self.cfg, {})
        decision = self._decide(seeds, front, base, eps, allow_rerun=True)
        t.decision += time.monotonic() - td
        if decision.status == "rerun":
            seed = self.cfg.run.seed + len(seeds) + (self.opt.baseline_seeds or self.cfg.keep.baseline_seeds)
            self.ui.say(f"{exp_id}: {decision.reason}")
            tr = time.monotonic()
            res2 = self._run_seed(exp_id, hyp.title + " (re-run)", run_dir / f"seed{seed}", seed)
            t.run += time.monotonic() - tr
            seeds.append(_seed_run(res2, seed, self.ws, self._objectives))
            td = time.monotonic()
            problem = integrity.worktree_problem(self.git)
            if problem is not None:
                self._finish(exp_id, hyp, "invalid", "invalid", problem, seeds, kept, commit)
                return
            if res2.status != "ok" or _non_finite(res2, self.cfg):
                seeds[-1]["status"] = "crash"
                decision = keep.Decision("discard", f"re-run with seed {seed} failed: {res2.error or 'non-finite metrics'}")
            else:
                decision = self._decide(seeds, front, base, eps, allow_rerun=False)
                decision = keep.Decision(decision.status, f"mean of {len(seeds)} seeds: {decision.reason}", decision.collapse)
            t.decision += time.monotonic() - td
        td = time.monotonic()
        self._finish(exp_id, hyp, decision.status, decision.status, decision.reason, seeds, kept, commit,
                     collapse=decision.collapse)
        t.decision += time.monotonic() - td

    def _decide(self, seeds, front, base, eps, allow_rerun: bool) -> keep.Decision:
        ok = [s for s in seeds if s.get("status") == "ok"]
        metrics = keep.mean_metrics([s["metrics"] for s in ok])
        aux = keep.mean_metrics([s.get("aux", {}) for s in ok])
        return keep.decide(self.cfg, metrics, front, base["metrics"], eps, aux=aux,
                           baseline_aux=base.get("aux") or {}, allow_rerun=allow_rerun)

    def _run_seed(self, exp_id: str, title: str, run_dir: Path, seed: int):
        self.ui.start(exp_id, f"{title} (seed {seed})", self.budget)
        try:
            return self.run_fn(self.ws, run_dir, config=self.cfg, budget_s=self.budget, seed=seed,
                               hard_limit_s=self.hard_limit)
        finally:
            self.ui.stop()

    def _finish(self, exp_id: str, hyp: Hypothesis, status: str, decision: str, reason: str,
                seeds: list[dict[str, Any]], kept: dict[str, Any], commit: str, collapse: bool = False) -> None:
        ok = [s for s in seeds if s.get("status") == "ok"]
        metrics = keep.mean_metrics([s["metrics"] for s in ok]) if ok else {}
        if status == "keep":
            self.git.tag(f"gg/{self.tag}/{exp_id}", commit)
        else:
            self.git.reset_hard(kept["commit"])
        self._end(exp_id, status, decision, reason, seeds, metrics=metrics, commit=commit, title=hyp.title,
                  extra={"collapse": collapse} if collapse else None)

    def _refused(self, hyp: Hypothesis, parent: dict[str, Any], reason: str, passages: list[Any]) -> None:
        exp_id = self.ledger.next_id()
        self.ledger.start({
            "id": exp_id, "tag": self.tag, "parent": parent["id"], "parent_commit": parent["commit"], "commit": "",
            "title": hyp.title, "hypothesis": self._hyp_record(hyp), "passages": [_citation(p) for p in passages],
            "proposer": hyp.meta.get("proposer", self.proposer.name),
            "proposer_info": {k: v for k, v in hyp.meta.items() if k not in ("passages", "proposer")},
        })
        self._end(exp_id, "invalid", "refused", f"refused: {reason}", [], title=hyp.title)

    def _end(self, exp_id: str, status: str, decision: str, reason: str, seeds: list[dict[str, Any]], *,
             metrics: dict[str, float] | None = None, commit: str = "", title: str = "",
             extra: dict[str, Any] | None = None) -> None:
        ok = [s for s in seeds if s.get("status") == "ok"]
        aux = keep.mean_metrics([s.get("aux", {}) for s in ok]) if ok else {}
        fields: dict[str, Any] = {"status": status, "decision": decision, "reason": reason, "seeds": seeds,
                                  "metrics": metrics or {}, "aux": aux, **(extra or {})}
        self.ledger.end(exp_id, fields, title=title, commit=commit)
        record = next((r for r in self.ledger.read() if r["id"] == exp_id), {"id": exp_id, **fields})
        self.ui.result(record, [o.name for o in self.cfg.objectives])
        if self.proposer is not None and status != "baseline":
            try:
                self.proposer.tell(record)
            except Exception as exc:  # a proposer's bookkeeping must not stop the loop
                self.ui.say(f"{exp_id}: proposer could not record the result: {type(exc).__name__}: {exc}")
        elif self.proposer is not None and hasattr(self.proposer, "tell_baseline"):
            self.proposer.tell_baseline(record)
        self._report()

    # -- knowledge ------------------------------------------------------------------------------
    def searcher(self) -> Any:
        """The knowledge base's Searcher, or None when it is missing or empty."""
        if self._searcher is None:
            try:
                from retrieval import Searcher
                s = Searcher(self.ws, self.cfg.knowledge)
                self._searcher = False if s.is_empty() else s
            except Exception as exc:  # no KB is a normal state: hypotheses just carry no passages
                self.ui.say(f"knowledge base not used: {type(exc).__name__}: {exc}")
                self._searcher = False
        return self._searcher or None

    def _passages(self) -> list[Any]:
        s = self.searcher()
        if s is None:
            return []
        query = _state_query(self._brief(), self.finished())
        try:
            return list(s.search(query, k=5))
        except Exception as exc:
            self.ui.say(f"knowledge search failed: {type(exc).__name__}: {exc}")
            return []

    def _hyp_record(self, hyp: Hypothesis) -> dict[str, Any]:
        rec = hyp.to_record()
        rec["citations"] = self._resolve(hyp.citations)
        return rec

    def _resolve(self, chunk_ids: list[str]) -> list[dict[str, Any]]:
        if not chunk_ids:
            return []
        s = self.searcher()
        found: dict[str, dict[str, Any]] = {}
        if s is not None:
            try:
                found = {p.chunk_id: _citation(p) for p in s.get(list(chunk_ids))}
            except Exception:
                found = {}
        return [found.get(c, {"chunk_id": c}) for c in chunk_ids]

    def _parent_of(self, hyp: Hypothesis, state: LoopState) -> dict[str, Any] | None:
        if not hyp.parent:
            return None
        found = next((r for r in state.front if r["id"] == hyp.parent), None)
        if found is None:
            self.ui.say(f"parent {hyp.parent} is not a kept run of this loop; starting from the latest kept one")
        return found

    def _report(self) -> None:
        if not self.opt.write_report:
            return
        try:
            from results.report import write_report
        except ImportError:
            return
        try:
            write_report(self.ws, self.cfg, tag=self.tag)
        except Exception as exc:  # the report is a view; a failure never stops the loop
            self.ui.say(f"report not refreshed: {type(exc).__name__}: {exc}")


def _sigterm_to_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _rel(ws: Path, path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ws))
    except ValueError:
        return str(path)


def _seed_run(res: Any, seed: int, ws: Path, objectives: list[str]) -> dict[str, Any]:
    """One seed's run for the ledger: the objectives in `metrics`, other figures in `aux`."""
    numbers = {k: float(v) for k, v in (res.metrics or {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
    # NaN/inf are left out: the ledger stays strict JSON and the status says crash.
    return {
        "seed": seed, "status": res.status,
        "metrics": {k: v for k, v in numbers.items() if k in objectives},
        "aux": {k: v for k, v in numbers.items() if k not in objectives and k not in NOT_AUX},
        "run_dir": _rel(ws, Path(res.run_dir)), "error": res.error or "",
        "wall_seconds": round(float(res.wall_seconds or 0.0), 3),
    }


def _non_finite(res: Any, cfg: Config) -> str:
    """The first objective an ok run reported as NaN or infinite ('' when all are finite)."""
    if res.status != "ok":
        return ""
    for o in cfg.objectives:
        v = (res.metrics or {}).get(o.name)
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return o.name
    return ""


def _frozen_of(res: Any) -> dict[str, Any] | None:
    return (getattr(res, "summary", None) or {}).get("frozen")


def _phase_times(res: Any) -> dict[str, float]:
    m = res.metrics or {}
    out = {"wall": float(res.wall_seconds or 0.0)}
    for k in ("training_seconds", "eval_seconds", "total_seconds"):
        if isinstance(m.get(k), (int, float)) and math.isfinite(m[k]):
            out[k] = float(m[k])
    return out


def _citation(p: Any) -> dict[str, Any]:
    if isinstance(p, dict):
        return p
    try:
        c = dict(p.citation())
    except Exception:
        c = {}
    for k in ("chunk_id", "source", "page", "page_end", "section", "text", "score"):
        if k not in c and hasattr(p, k):
            c[k] = getattr(p, k)
    return c


def _state_query(brief: str, records: list[dict[str, Any]]) -> str:
    """A query for the passages of this state: the brief's opening and what recently collapsed."""
    head = " ".join(brief.split())[:300]
    recent = [r.get("title", "") for r in records[-3:] if r.get("status") in ("discard", "crash") or r.get("collapse")]
    return (head + " " + " ".join(recent)).strip() or "training schedule alignment segmentation"
