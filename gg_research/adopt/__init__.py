"""Adopting an autoresearch-style repository as a workspace, in place, without touching its code.

Such a repo has a `train.py` a coding agent edits, a frozen `prepare.py`, a `program.md` brief
that names the run command and the goal ("get the lowest val_bpb"), a summary printed after a
`---` line, and an untracked `results.tsv` of what was tried. `plan_adoption` reads all of that
and says what it would write; `apply_adoption` writes it:

- a branch of its own (`gg/adopted`) from the newest kept commit of results.tsv that git has
  (else HEAD), checked out, holding one new commit: `gg-research.toml` and `.gitignore` lines for
  gg-research's state. No existing branch or commit is changed, train.py is never written.
- the results.tsv rows as past experiments of their own tag in the ledger, marked imported.
"""

from gg_research.adopt.infer import goals, history_direction, summary_keys
from gg_research.adopt.plan import BRANCH, HISTORY_TAG, Plan, apply_adoption, plan_adoption

__all__ = ["BRANCH", "HISTORY_TAG", "Plan", "apply_adoption", "goals", "history_direction", "plan_adoption",
           "summary_keys"]
