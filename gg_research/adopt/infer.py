"""What an autoresearch-style repo says about itself, read from its text (never run): the keys its
train.py prints after `---`, the goal and run command of its program.md, the files it calls
read-only, its budget, and the direction its kept history moved each metric in."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gg_research.harness.errors import WorkspaceError
from gg_research.results.history import History
from gg_research.results.ledger import Status

# Figures a training script reports that describe the run, not its quality: never a default objective.
SECONDARY = {"training_seconds", "total_seconds", "eval_seconds", "peak_vram_mb", "peak_memory_mb", "memory_gb",
             "memory", "mfu_percent", "total_tokens_m", "num_steps", "num_params_m", "depth", "img_per_sec",
             "tok_per_sec", "steps", "epochs", "num_params", "n_params", "params_m", "latency_s"}

_COMMAND = re.compile(r"`((?:uv run|python3?|poetry run|pixi run|mlx_lm\S*|\.venv/bin/python)\s[^`\n]*?\.py[^`\n]*)`")
_GOAL = re.compile(r"\b(lowest|highest|lower|higher|minimi[sz]e|maximi[sz]e|reduce|increase)\s+(?:the\s+)?`?"
                   r"([A-Za-z_][A-Za-z0-9_]*)`?", re.I)
_PRINT_KEY = re.compile(r"""print\(\s*f?["'](?:\\n)*([A-Za-z_][A-Za-z0-9_.]*)\s*:""")
_DASHES = re.compile(r"""print\(\s*["'](?:\\n)*---["']\s*\)""")
_MINUTES = re.compile(r"(\d+(?:\.\d+)?)[ -]minutes?\b[^.\n]{0,60}budget|budget of (\d+(?:\.\d+)?) minutes?", re.I)
_FROZEN_WORDS = re.compile(r"read-only|do not modify|don't modify|not be modified|frozen|never edit", re.I)



@dataclass
class Objective:
    name: str
    direction: str  # maximize | minimize
    how: str  # where the direction came from



def summary_keys(source: str) -> list[str]:
    """The keys train.py prints after its `print("---")`, read from its source (never run)."""
    m = _DASHES.search(source)
    if m is None:
        return []
    keys: list[str] = []
    for k in _PRINT_KEY.findall(source[m.end():]):
        if k not in keys:
            keys.append(k)
    return keys


def goals(brief: str) -> dict[str, str]:
    """Metric -> direction stated in the brief ("get the lowest val_bpb", "Minimize `val_bpb`")."""
    out: dict[str, str] = {}
    for word, name in _GOAL.findall(brief):
        up = word.lower() in ("highest", "higher", "maximize", "maximise", "increase")
        out.setdefault(name, "maximize" if up else "minimize")
    return out


def history_direction(history: History, name: str) -> str | None:
    """The direction the kept rows moved `name` in, or None when they do not say.

    Within each run of rows started by a baseline, every keep should improve on the kept value
    before it, and every discard should not beat the best kept so far: a direction is inferred
    when all such comparisons that differ agree.
    """
    votes: set[str] = set()
    best: float | None = None
    last_kept: float | None = None
    for row in history.rows:
        value = row.figures.get(name)
        if row.status is Status.BASELINE:
            best = last_kept = value
            continue
        if value is None:
            continue
        if row.status is Status.KEEP:
            if last_kept is not None and value != last_kept:
                votes.add("minimize" if value < last_kept else "maximize")
            last_kept = value
            best = value
        elif row.status is Status.DISCARD and best is not None and value != best:
            votes.add("minimize" if value > best else "maximize")
    return votes.pop() if len(votes) == 1 else None


def kept_steps(history: History, name: str) -> list[float]:
    """The sizes of the steps between consecutive kept values of `name` (a baseline starts over):
    what the researcher's keeps were worth, the scale a noise floor must stay under."""
    steps: list[float] = []
    last: float | None = None
    for row in history.rows:
        value = row.figures.get(name)
        if row.status is Status.BASELINE:
            last = value
        elif row.status is Status.KEEP and value is not None:
            if last is not None and value != last:
                steps.append(abs(value - last))
            last = value
    return steps


def run_command(brief: str, repo: Path) -> tuple[str, str]:
    """The run command of the brief, shell redirections cut (gg-research runs it without a shell)."""
    found = [m.group(1) for m in _COMMAND.finditer(brief)]
    runs = [c for c in found if "run.log" in c] or [c for c in found if "prepare" not in c]
    if runs:
        cmd = re.split(r"\s(?:>|2>|\||&&|;)", runs[0], maxsplit=1)[0].strip()
        return cmd, "program.md" + (" (its '> run.log' redirection dropped)" if cmd != runs[0] else "")
    if (repo / "uv.lock").is_file():
        return "uv run train.py", "default (uv.lock present)"
    return "python train.py", "default"


def frozen_files(brief: str, repo: Path, mutable: list[str]) -> list[str]:
    names: list[str] = []
    negative = False
    for line in brief.splitlines():
        if line.lstrip().startswith("#") or line.strip().startswith("**"):
            negative = bool(re.search(r"cannot|can't|must not|do not|don't", line, re.I))
        if negative or _FROZEN_WORDS.search(line):
            names += re.findall(r"`([\w./-]+\.py)`", line)
    if (repo / "prepare.py").is_file():
        names.insert(0, "prepare.py")
    return [n for i, n in enumerate(names) if n not in names[:i] and n not in mutable]


def budget_of(brief: str) -> tuple[float, str]:
    m = _MINUTES.search(brief)
    if m:
        return float(m.group(1) or m.group(2)) * 60, "program.md"
    return 300.0, "default (the autoresearch 5 minutes)"


def parse_objective(spec: str) -> tuple[str, str | None]:
    name, _, way = spec.partition(":")
    way = way.strip().lower()
    if way not in ("", "max", "min", "maximize", "minimize"):
        raise WorkspaceError(f"--objective {spec!r}: the direction after ':' is max or min")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name.strip()):
        raise WorkspaceError(f"--objective {spec!r}: not a metric name")
    return name.strip(), (None if not way else "maximize" if way.startswith("max") else "minimize")


def choose_objectives(given: list[str] | None, stated: dict[str, str], columns: list[str], keys: list[str],
                history: History | None, ask: Callable[[str], str] | None, brief: str) -> list[Objective]:
    known = set(columns) | set(keys)
    if given:
        specs = [parse_objective(s) for s in given]
    else:
        # A goal's word is a metric when the summary or the TSV has it; with neither to check
        # against, only when the brief writes it as code ("Minimize `val_bpb`", not "a lower learning rate").
        named = [n for n in stated if n in known or (not known and f"`{n}`" in brief)]
        if named:
            specs = [(n, None) for n in named]
        else:
            pool = [c for c in columns if c in keys] if keys else list(columns)
            pool = [c for c in pool if c.lower() not in SECONDARY] or \
                   [k for k in keys if k.lower() not in SECONDARY]
            if not pool:
                raise WorkspaceError("no metric found (no goal in program.md, no figure column in results.tsv, no "
                                     "print('---') summary in train.py); pass --objective NAME:min or NAME:max")
            specs = [(pool[0], None)]
    out = []
    for name, way in specs:
        if way is not None:
            out.append(Objective(name, way, "--objective"))
            continue
        from_history = history_direction(history, name) if history else None
        from_brief = stated.get(name)
        if from_history and from_brief and from_history != from_brief:
            out.append(Objective(name, from_brief, f"program.md; note: the kept history moved it the other way "
                                                   f"({from_history})"))
        elif from_history:
            both = " and program.md's goal" if from_brief else ""
            out.append(Objective(name, from_history, f"the kept history in results.tsv{both}"))
        elif from_brief:
            out.append(Objective(name, from_brief, "program.md"))
        elif ask is not None:
            answer = ask(f"is a higher or a lower {name} better? [higher/lower]: ").strip().lower()
            if answer not in ("higher", "lower", "max", "min"):
                raise WorkspaceError(f"{name}: answer 'higher' or 'lower' (or pass --objective {name}:max|min)")
            out.append(Objective(name, "maximize" if answer in ("higher", "max") else "minimize", "asked"))
        else:
            raise WorkspaceError(f"{name}: cannot tell whether higher or lower is better (the history does not "
                                 f"say, program.md neither); pass --objective {name}:max or {name}:min")
    return out
