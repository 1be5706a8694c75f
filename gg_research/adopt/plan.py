"""Adoption as a plan (what `adopt --dry-run` shows) and its application (a branch, one commit,
the imported history); what is inferred comes from gg_research.adopt.infer."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gg_research.adopt.infer import (Objective, budget_of, choose_objectives, frozen_files, goals, kept_steps,
                                     run_command, summary_keys)
from gg_research.config import CONFIG_NAME, Config, toml_value
from gg_research.harness.errors import WorkspaceError
from gg_research.results.history import History, imported_experiments, read_results_tsv
from gg_research.results.ledger import LedgerFile
from gg_research.workspace_map import ADOPTED_BRANCH, IGNORED, WorkspaceMap

BRANCH = ADOPTED_BRANCH
HISTORY_TAG = "imported"


@dataclass
class Plan:
    repo: Path
    mutable: list[str]
    frozen: list[str]
    command: str
    command_from: str
    objectives: list[Objective]
    secondary: list[str]
    summary_keys: list[str]
    brief: str
    budget_s: float
    budget_from: str
    history: History | None
    commits: dict[str, str]  # results.tsv commit text -> full hash git has
    start_commit: str
    start_from: str
    branch: str
    history_tag: str
    search_params: int  # '# search:' annotated constants (the offline proposer's space)
    min_epsilon: float | None = None  # the keep rule's noise floor, when the history sets its scale
    min_epsilon_from: str = ""
    warnings: list[str] = field(default_factory=list)

    def toml(self) -> str:
        """The gg-research.toml adoption writes (validated before it is shown or written)."""
        lines = [
            "# gg-research workspace adopted from an autoresearch-style repo by 'gg-research adopt'.",
            "# Keys not written here take their defaults ('gg-research init DIR' writes them all, documented).",
            "",
            "[workspace]",
            f"mutable = {toml_value(self.mutable)}",
            f"brief = {toml_value(self.brief or 'program.md')}",
            "",
            "[run]",
            "# Run without a shell; its output goes to each run's run.log, whose '---' block is read.",
            f"command = {toml_value(self.command)}",
            f"budget_s = {toml_value(float(self.budget_s))}",
            "",
            "[keep]",
            f"primary = {toml_value(self.objectives[0].name)}",
            *([f"# {self.min_epsilon_from}", f"min_epsilon = {toml_value(self.min_epsilon)}"]
              if self.min_epsilon is not None else []),
            "",
        ]
        for o in self.objectives:
            lines += ["[[objectives]]", f"name = {toml_value(o.name)}", f"direction = {toml_value(o.direction)}",
                      f"# direction from {o.how}", ""]
        text = "\n".join(lines)
        import tomllib

        Config.model_validate(tomllib.loads(text))  # a plan that would not load is a bug, found here
        return text

    def describe(self) -> list[str]:
        """What was inferred, a line each, as the command prints it."""
        out = [f"adopt {self.repo}",
               f"  mutable      {', '.join(self.mutable)} (never written by adopt)",
               f"  frozen       {', '.join(self.frozen) or '(none named)'}; every file but the mutable ones is frozen",
               f"  brief        {self.brief or '(none: program.md missing)'}",
               f"  command      {self.command}   [{self.command_from}]",
               f"  budget       {self.budget_s:g} s   [{self.budget_from}]; a run is killed at 2x budget + 120 s"]
        for o in self.objectives:
            out.append(f"  objective    {o.name}: {o.direction}   [{o.how}]")
        if self.min_epsilon is not None:
            out.append(f"  noise floor  [keep] min_epsilon {self.min_epsilon:g}   [{self.min_epsilon_from}]")
        if self.secondary:
            out.append(f"  secondary    {', '.join(self.secondary)} (recorded, not judged)")
        if self.history is not None:
            h = self.history
            counts: dict[str, int] = {}
            for r in h.rows:
                counts[str(r.status)] = counts.get(str(r.status), 0) + 1
            what = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no rows"
            known = sum(1 for r in h.rows if self.commits.get(r.commit))
            out.append(f"  history      {Path(h.source).name}: {len(h.rows)} rows ({what}); {known} with a commit git has; "
                       f"imported as tag '{self.history_tag}'")
            out += [f"    not imported: {s}" for s in h.skipped]
        else:
            out.append("  history      none (no results.tsv)")
        out.append(f"  git          new branch {self.branch} at {self.start_commit[:7]} ({self.start_from}); "
                   "no existing branch or commit is changed")
        out.append(f"  search space {self.search_params} '# search:' constant(s) in {', '.join(self.mutable)}")
        out += [f"  note: {w}" for w in self.warnings]
        return out


def _git(repo: Path, *args: str, check: bool = True) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise WorkspaceError("git is not installed; adopting a repo needs git") from None
    if check and proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip().splitlines()
        raise WorkspaceError(f"{repo}: git {' '.join(args[:2])} failed: {err[-1] if err else proc.returncode}")
    return proc.stdout if proc.returncode == 0 else ""


def _read(path: Path, limit: int = 2 * 2**20) -> str:
    try:
        return path.read_bytes()[:limit].decode("utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def plan_adoption(repo: Path, *, command: str | None = None, objectives: list[str] | None = None,
                  mutable: list[str] | None = None, budget_s: float | None = None, branch: str = BRANCH,
                  history_tag: str = HISTORY_TAG, results_tsv: Path | None = None,
                  ask: Callable[[str], str] | None = None) -> Plan:
    """What adopting `repo` would do; nothing is written. `ask` (a prompt function) settles what
    cannot be inferred; without it, that is a WorkspaceError naming the flag to pass."""
    repo = Path(repo).expanduser().resolve()
    if not repo.is_dir():
        raise WorkspaceError(f"{repo}: no such folder")
    if _git(repo, "rev-parse", "--show-toplevel", check=False).strip() != str(repo):
        raise WorkspaceError(f"{repo}: not the top folder of a git repository (an autoresearch repo is one)")
    if (repo / CONFIG_NAME).exists():
        raise WorkspaceError(f"{repo}: already has {CONFIG_NAME}; it is a gg-research workspace")
    if not _git(repo, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip():
        raise WorkspaceError(f"{repo}: the repository has no commit yet")
    warnings: list[str] = []
    brief_text = _read(repo / "program.md")
    mutable = mutable or ["train.py"]
    for rel in mutable:
        if not (repo / rel).is_file() or not _git(repo, "ls-files", "--", rel, check=False).strip():
            raise WorkspaceError(f"{repo / rel}: mutable file is missing or not committed (--mutable names another)")
    if command is not None:
        cmd, cmd_from = command, "--command"
    else:
        cmd, cmd_from = run_command(brief_text, repo)
        if ask is not None:
            cmd = ask(f"run command [{cmd}]: ").strip() or cmd
    if shutil.which(cmd.split()[0]) is None and not (repo / cmd.split()[0]).is_file():
        warnings.append(f"{cmd.split()[0]!r} is not on this PATH: the first run will crash; pass --command")
    elif cmd.split()[0] in ("uv", "poetry", "pixi"):
        warnings.append(f"'{cmd.split()[0]}' may want the network or your home folder, which a boxed run does not "
                        "have; if the first run fails there, use the environment's python: --command "
                        "'.venv/bin/python train.py' (or [run] sandbox = \"off\")")
    keys = summary_keys(_read(repo / mutable[0]))
    tsv = results_tsv or repo / "results.tsv"
    history: History | None = None
    if tsv.is_file():
        try:
            history = read_results_tsv(tsv)
        except (OSError, ValueError) as exc:
            raise WorkspaceError(str(exc)) from None
    stated = goals(brief_text)
    columns = history.figure_columns if history else []
    chosen = choose_objectives(objectives, stated, columns, keys, history, ask, brief_text)
    names = [o.name for o in chosen]
    secondary = [k for k in dict.fromkeys([*keys, *columns]) if k not in names]
    if keys:
        missing = [n for n in names if n not in keys]
        if missing:
            warnings.append(f"{', '.join(missing)} not among the keys {mutable[0]} prints after '---' "
                            f"({', '.join(keys)}): every run will crash unless it prints them")
    else:
        warnings.append(f"no print('---') summary found in {mutable[0]}'s source; runs must print one "
                        "(or write $GG_RUN_DIR/last_run.json)")
    commits = _resolve_commits(repo, history)
    start, start_from = _start_commit(repo, history, commits)
    if subprocess.run(["git", "-C", str(repo), "show-ref", "--verify", "--quiet", f"refs/heads/{branch}"]).returncode == 0:
        raise WorkspaceError(f"{repo}: branch {branch} already exists; pass --branch NAME")
    budget, budget_from = (budget_s, "--budget") if budget_s is not None else budget_of(brief_text)
    from gg_research.loop.search_space import parse_space
    from gg_research.loop.errors import ProposerError

    try:
        params = len(parse_space({m: _read(repo / m) for m in mutable}))
    except ProposerError as exc:
        params = 0
        warnings.append(str(exc))
    if not params:
        warnings.append("no '# search:' annotations in the mutable files: the offline proposer (Optuna) has no "
                        "space to search; use Claude (ANTHROPIC_API_KEY), a coding agent (gg-research step / mcp), "
                        "or annotate constants in a commit of your own (LR = 0.04  # search: log(0.004, 0.4))")
    floor, floor_from = _noise_floor(history, names)
    return Plan(repo=repo, mutable=list(mutable), frozen=frozen_files(brief_text, repo, mutable), command=cmd,
                command_from=cmd_from, objectives=chosen, secondary=secondary, summary_keys=keys,
                brief="program.md" if brief_text else "", budget_s=budget, budget_from=budget_from, history=history,
                commits=commits, start_commit=start, start_from=start_from, branch=branch, history_tag=history_tag,
                search_params=params, warnings=warnings, min_epsilon=floor, min_epsilon_from=floor_from)


def _noise_floor(history: History | None, names: list[str]) -> tuple[float | None, str]:
    """The keep rule's floor on the noise margin, below the smallest step the kept history took.

    The default floor (0.005) suits scores in [0, 1] such as Dice; autoresearch's keeps of
    val_bpb are often a few thousandths, which that floor would call noise.
    """
    default = Config().keep.min_epsilon
    steps = [s for n in names for s in (kept_steps(history, n) if history else [])]
    if not steps or min(steps) / 2 >= default:
        return None, ""
    floor = float(f"{min(steps) / 2:.2g}")
    return floor, (f"half the smallest step the kept history of results.tsv took ({min(steps):.4g}); "
                   f"the default {default:g} would call it noise")


def _resolve_commits(repo: Path, history: History | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in history.rows if history else []:
        text = row.commit.strip()
        if text in out or not re.fullmatch(r"[0-9a-fA-F]{4,40}", text):
            continue  # "a1b2c3d-dirty", "baseline", nothing: not a commit git can name
        full = _git(repo, "rev-parse", "--verify", "--quiet", f"{text}^{{commit}}", check=False).strip()
        if full:
            out[text] = full
    return out


def _start_commit(repo: Path, history: History | None, commits: dict[str, str]) -> tuple[str, str]:
    kept = [r for r in (history.rows if history else []) if r.status.kept and commits.get(r.commit)]
    if kept:
        row = kept[-1]
        return commits[row.commit], f"the newest kept row of results.tsv, line {row.line}"
    return _git(repo, "rev-parse", "HEAD").strip(), "HEAD: no kept row of results.tsv names a commit git has"


def apply_adoption(plan: Plan) -> list[str]:
    """Write what `plan` says: the branch and its one commit, then the imported history. Lines to print."""
    repo = plan.repo
    dirty = _git(repo, "status", "--porcelain", "--untracked-files=no").strip()
    if dirty:
        raise WorkspaceError(f"{repo}: uncommitted changes to tracked files ({dirty.splitlines()[0].strip()} ...); "
                             "commit or stash them first, adopt changes no file of yours")
    text = plan.toml()
    _git(repo, "checkout", "-q", "-b", plan.branch, plan.start_commit)
    (repo / CONFIG_NAME).write_text(text, encoding="utf-8")
    ignore = repo / ".gitignore"
    have = _read(ignore)
    extra = [p for p in IGNORED if p not in have.split()]
    if extra:
        ignore.write_text(have + ("\n" if have and not have.endswith("\n") else "") + "\n".join(extra) + "\n",
                          encoding="utf-8")
    _git(repo, "add", "--", CONFIG_NAME, ".gitignore")
    ident = [] if _git(repo, "config", "user.email", check=False).strip() else \
        ["-c", "user.name=gg-research", "-c", "user.email=gg-research@localhost"]
    _git(repo, *ident, "commit", "-q", "-m", "gg-research: adopt this repo (gg-research.toml, .gitignore)")
    lines = [f"on new branch {plan.branch} at {plan.start_commit[:7]}: committed {CONFIG_NAME} and .gitignore"]
    if plan.history is not None and plan.history.rows:
        ledger = LedgerFile(repo, [o.name for o in plan.objectives])
        exps, notes = imported_experiments(plan.history, [o.name for o in plan.objectives], plan.history_tag,
                                           plan.commits)
        ledger.append_imported(exps)
        lines.append(f"imported {len(exps)} past experiment(s) as tag '{plan.history_tag}' into {WorkspaceMap(Path()).ledger}")
        lines += [f"  {n}" for n in notes]
    return lines
