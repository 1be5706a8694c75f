"""Autoresearch-style repositories of our own, in the shapes public ones have (facts read from
karpathy/autoresearch and forks of it; the files here are written for these tests):

- `autoresearch`: program.md with the goal "lowest val_bpb", `uv run train.py > run.log 2>&1`,
  prepare.py read-only, a 5-minute budget; the summary val_bpb, training_seconds, peak_vram_mb...;
  results.tsv `commit val_bpb memory_gb status description` with a baseline row, crashes logged as
  0.000000, a blank metric, commas in notes, a `-dirty` commit, a tab inside a description, a
  status a fork invented (`run`), a commit git never had.
- `trader`: the "highest score" variant: nine columns with a `val_pass` of true/false/N/A, a
  summary with `-15.2%` and `val_pass: true`.
- `uppercase`: statuses KEEP/DISCARD/CRASH and extra free-text columns (strategy, rationale); the
  brief says "Minimize `val_bpb`" with the command `python train.py`.
- `thesis`: the researcher's own log, `commit, val_score, result, notes`, no goal in program.md,
  so the direction must come from the kept history; the summary also prints pbqc and dice.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

# A tiny CPU training script of our own: fits y = 3x + 1 by SGD in pure Python (milliseconds),
# honours GG_SEED, prints the autoresearch summary. Its knobs carry '# search:' annotations.
TRAIN = '''\
import math
import os
import random
import time

LR = 0.01  # search: log(0.001, 0.3)
STEPS = 300  # search: int(50, 1500)
NOISE = 0.1

t0 = time.time()
rng = random.Random(int(os.environ.get("GG_SEED", "0")))
data = [(x, 3 * x + 1 + rng.gauss(0, NOISE)) for x in (rng.uniform(-1, 1) for _ in range(256))]
train, val = data[:200], data[200:]
w = b = 0.0
for step in range(STEPS):
    x, y = train[step % len(train)]
    err = w * x + b - y
    w -= LR * err * x
    b -= LR * err
    if step % 100 == 0:
        print(f"step {step:05d} | loss: {err * err:.4f}")
val_loss = sum((w * x + b - y) ** 2 for x, y in val) / len(val)
print("---")
print(f"val_bpb:          {val_loss:.6f}")
print(f"training_seconds: {time.time() - t0:.1f}")
print(f"total_seconds:    {time.time() - t0:.1f}")
print(f"peak_vram_mb:     0.0")
print(f"num_steps:        {STEPS}")
print(f"device:           cpu")
'''

PREPARE = '''\
"""Data and evaluation, fixed: the agent never edits this file."""
TIME_BUDGET = 300
'''

PROGRAM_AUTORESEARCH = """\
# autoresearch

An agent tunes a small model overnight.

## Experimentation

Each experiment trains for a **fixed time budget of 5 minutes**. You launch it as `uv run train.py`.

**What you CAN do:**
- Modify `train.py`: architecture, optimizer, hyperparameters.

**What you CANNOT do:**
- Modify `prepare.py`. It is read-only: data, tokenizer, evaluation.
- Add dependencies.

**The goal is simple: get the lowest val_bpb.**

## The experiment loop

1. Edit `train.py`, then git commit.
2. Run the experiment: `uv run train.py > run.log 2>&1`
3. Read the result: `grep "^val_bpb:" run.log`; log it to results.tsv (untracked).
"""

PROGRAM_TRADER = """\
# autotrader

Launch: `uv run train.py > run.log 2>&1`. Training has a fixed time budget of 2 minutes.

**What you CAN do:** Modify `train.py`.

**What you CANNOT do:**
- Modify `prepare.py`. It holds the backtest and the metric.

**The goal is simple: get the highest score.** Keep only if val_pass is true.
"""

PROGRAM_UPPERCASE = """\
# mlx port

Goal: **Minimize `val_bpb`** under a fixed 5-minute budget.

Run: `python train.py > run.log 2>&1`

`prepare.py` (read-only). `train.py` (all experimentation happens here).
"""

PROGRAM_THESIS = """\
# GG-Net nights

Joint training of the STN and the U-Net; PBQC and Dice are both reported, val_score combines them.
Run with `python train.py > run.log 2>&1`.
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=agent", "-c", "user.email=agent@example.invalid",
                           *args], check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, message: str, **files: str) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def agent_history(repo: Path, program: str, train: str = TRAIN) -> dict[str, str]:
    """A repo after an agent's night on branch autoresearch/mar5: two keeps, a discard and a crash
    reset away (their commits dangling, as `git reset` leaves them). Returns name -> full hash."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "master")
    c = {"base": _commit(repo, "initial", **{"train.py": train, "prepare.py": PREPARE, "program.md": program,
                                             ".gitignore": "results.tsv\nrun.log\n"})}
    git(repo, "checkout", "-q", "-b", "autoresearch/mar5")
    c["keep1"] = _commit(repo, "lr up", **{"train.py": _edit(train, "LR = 0.01 ", "LR = 0.02 ")})
    c["discard"] = _commit(repo, "fewer steps", **{"train.py": _edit(train, "STEPS = 300 ", "STEPS = 100 ")})
    git(repo, "reset", "-q", "--hard", c["keep1"])
    c["crash"] = _commit(repo, "typo", **{"train.py": _edit(train, "import math", "import maths")})
    git(repo, "reset", "-q", "--hard", c["keep1"])
    c["keep2"] = _commit(repo, "more steps", **{"train.py": _edit(_edit(train, "LR = 0.01 ", "LR = 0.02 "),
                                                                   "STEPS = 300 ", "STEPS = 600 ")})
    git(repo, "checkout", "-q", "master")  # the user looks at master after the night
    return c


def _shape(root: Path, name: str, program: str, rows: list[str], train: str = TRAIN) -> tuple[Path, dict[str, str]]:
    """The repo after the night, with its results.tsv: `rows` name commits as {base}, {keep1}, ... (7 digits)."""
    repo = root / name
    c = agent_history(repo, program, train)
    short = {k: v[:7] for k, v in c.items()}
    (repo / "results.tsv").write_text("\n".join(r.format(**short) for r in rows) + "\n")
    return repo, c


def autoresearch_repo(root: Path) -> tuple[Path, dict[str, str]]:
    return _shape(root, "autoresearch", PROGRAM_AUTORESEARCH, [
        "commit\tval_bpb\tmemory_gb\tstatus\tdescription",
        "{base}\t0.997900\t44.0\tkeep\tbaseline",
        "{keep1}\t0.993200\t44.2\tkeep\tincrease LR to 0.02, as the notes suggest",
        "{discard}\t1.005000\t44.0\tdiscard\tfewer steps, faster: worse",
        "{crash}\t0.000000\t0.0\tcrash\ttypo in an import (ModuleNotFoundError)",
        "{keep1}-dirty\t\t44.1\tdiscard\tsame, uncommitted edit; metric not written down",
        "abc1234\t0.995000\t44.0\tdiscard\ta commit git never had",
        "{keep1}\t0.994000\t44.0\tdiscard\tweight decay 0.1\tthen 0.2",
        "{keep1}\t0.999000\t44.0\trun\ta status invented by a fork",
        "{keep2}\t0.990100\t44.3\tkeep\tmore steps, at the higher LR",
    ])


TRADER_TRAIN = TRAIN.replace('print(f"val_bpb:          {val_loss:.6f}")',
                             'print(f"score:            {1 / (1 + val_loss):.4f}")\n'
                             'print(f"max_drawdown:     -15.2%")\nprint(f"val_pass:         true")')


def trader_repo(root: Path) -> tuple[Path, dict[str, str]]:
    return _shape(root, "trader", PROGRAM_TRADER, [
        "commit\tscore\tsharpe\tmax_dd\tn_trades\tn_params\tval_pass\tstatus\tdescription",
        "{base}\t0.4200\t0.5800\t-15.2\t127\t1249\ttrue\tkeep\tbaseline",
        "{keep1}\t0.5100\t0.6200\t-12.8\t145\t1249\ttrue\tkeep\tadd momentum features",
        "{discard}\t0.3800\t0.5500\t-18.1\t98\t1249\tfalse\tdiscard\tswitch to Huber loss",
        "{crash}\t0.0000\t0.0000\t0.0\t0\t0\tN/A\tcrash\tLSTM model (shape mismatch)",
    ], TRADER_TRAIN)


def uppercase_repo(root: Path) -> tuple[Path, dict[str, str]]:
    return _shape(root, "uppercase", PROGRAM_UPPERCASE, [
        "commit\tval_bpb\tmemory_gb\tstatus\tdescription\tdelta\tstrategy\trationale",
        "{base}\t2.667000\t26.9\tKEEP\tbaseline\t0.000\tBASELINE\tfirst run",
        "{keep1}\t2.588904\t26.9\tKEEP\thalve total batch size\t0.450\tBREAK\tmore steps in the budget",
        "{discard}\t2.700000\t27.0\tDISCARD\tdepth 6\t0.300\tGUARD\tcapacity, but fewer steps",
        "{crash}\t0.000000\t0.0\tCRASH\tspiking FFN\t0.200\tADAPT\tnan after step 40",
    ])


THESIS_TRAIN = TRAIN.replace('print(f"val_bpb:          {val_loss:.6f}")',
                             'print(f"pbqc:             {1 / (1 + val_loss):.4f}")\n'
                             'print(f"dice:             {1 / (1 + 2 * val_loss):.4f}")\n'
                             'print(f"val_score:        {1 / (1 + 1.5 * val_loss):.4f}")')


def thesis_repo(root: Path) -> tuple[Path, dict[str, str]]:
    return _shape(root, "thesis", PROGRAM_THESIS, [
        "commit\tval_score\tresult\tnotes",
        "{base}\t0.59\tkeep\tbaseline, staged training",
        "{keep1}\t0.62\tkeep\tjoint training (biggest win so far)",
        "{discard}\t0.41\tdiscard\tSTN warm-up before joint training: PBQC collapsed",
        "{crash}\t\tcrash\tEfficientNet-B0 encoder: channel mismatch",
        "{keep2}\t0.64\tkeep\tloss weight 2x on the alignment stage",
    ], THESIS_TRAIN)
