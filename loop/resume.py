"""Starting a loop on its branch: a new tag, or the resume of one after a kill, a reboot or Ctrl-C."""

from __future__ import annotations

from pathlib import Path

from gg_research.loop.errors import LoopSetupError
from gg_research.loop.git import Git
from gg_research.results.ledger import Experiment, LedgerFile, Status
from gg_research.results.lifecycle import Cause, Fate, settle
from gg_research.workspace_map import WorkspaceMap, keep_tag, rescue_tag, tag_of_branch
from gg_research.workspace_map import branch as branch_of

RESUME_REASON = "interrupted: the loop died while this experiment ran (found on resume)"
# A run the loop lost is not the idea's failure: recorded as interrupted, like a Ctrl-C, so it
# neither counts as a crash of its direction nor lengthens a plateau.


def applying_marker(ws: Path, tag: str) -> Path:
    """Exists while the loop writes and commits edits; on resume it says a dirty file is the loop's own."""
    return WorkspaceMap(ws).applying(tag)


def clean_after_interrupt(git: Git, ws: Path, tag: str, branch: str, kept: Experiment | None,
                          always: bool = False) -> None:
    """Reset the loop's branch to its latest kept commit after an interrupt.

    A Ctrl-C between writing the edits and the start record leaves files only the loop wrote
    (the applying marker says so); `always` resets whenever the loop's branch is checked out.
    """
    marker = applying_marker(ws, tag)
    if (always or marker.exists()) and kept is not None and git.current_branch() == branch:
        git.reset_hard(kept.commit)
    marker.unlink(missing_ok=True)


def prepare_branch(git: Git, ledger: LedgerFile, ws: Path, tag: str, mutable: list[str],
                   records: list[Experiment], start: str | None = None) -> list[str]:
    """Check out (or create, at `start` or HEAD) the loop's branch in a consistent state; return lines to print."""
    branch = branch_of(tag)
    exists = git.branch_exists(branch)
    if records and not exists:
        raise LoopSetupError(f"{ws}: the ledger has experiments of tag {tag!r} but branch {branch} is gone; use a new tag")
    if exists and not records:
        raise LoopSetupError(f"{ws}: branch {branch} already exists (not made by a loop of this ledger); use a new tag")
    for rel in mutable:
        if not (ws / rel).is_file() or not git.tracked(rel):
            raise LoopSetupError(f"{ws / rel}: mutable file is missing or not committed")
    marker = applying_marker(ws, tag)
    dirty = git.dirty(mutable)
    ours = bool(records) and marker.exists() and git.current_branch() == branch
    if dirty and not ours:
        raise LoopSetupError(f"{ws}: uncommitted changes in mutable file(s) {', '.join(dirty)}; commit or discard them first")
    lines: list[str] = []
    if not records:
        git.create_branch(branch, start)
        lines.append(f"loop {tag}: new branch {branch} from {git.head()[:7]}")
        return lines
    if git.current_branch() != branch:
        if git.dirty(mutable):
            raise LoopSetupError(f"{ws}: uncommitted changes in mutable files; cannot switch to {branch}")
        git.checkout(branch)
    for exp in records:
        if exp.status is Status.RUNNING:
            settle(exp, Fate(Status.INTERRUPTED, Cause.LOOP_DIED, RESUME_REASON))
            ledger.end(exp)
            lines.append(f"{exp.id}: was running when the loop died; recorded as interrupted")
    for exp_id in ledger.repair_tsv():
        lines.append(f"{exp_id}: missing row added to results.tsv")
    lines += reconcile_keep_tags(git, tag, records)
    kept = [e for e in records if e.status.kept]
    target = kept[-1].commit if kept else records[0].parent_commit or git.head()
    # A kill between the loop's commit and its start line (the marker still there) leaves that commit at
    # HEAD, on a kept one: the loop's own, undone by the reset below rather than rescued as someone's work.
    half_made = {git.head()} if ours and git.parent(git.head()) in {e.commit for e in kept} else set()
    rescued = rescue_foreign_commits(git, tag, target, records, also_ours=half_made)
    if rescued:
        lines.append(rescued)
    git.reset_hard(target)
    marker.unlink(missing_ok=True)
    lines.append(f"loop {tag}: resumed at {target[:7]} after {len(records)} recorded experiment(s)")
    return lines


def reconcile_keep_tags(git: Git, tag: str, records: list[Experiment]) -> list[str]:
    """Make the keep tags say what the ledger says; a line for each one changed.

    A keep is tagged just before its end line is written (and a baseline too): a kill, a Ctrl-C or a
    full disk between the two leaves a tag on an experiment the ledger ends otherwise (interrupted),
    or, had the end line come first, a keep without its tag. The ledger is the record: a tag of an
    experiment it does not hold as kept is deleted, a kept one without its tag gets it.
    """
    have = {name for name in git.tags(keep_tag(tag, "*"))}
    lines: list[str] = []
    for exp in records:
        name = keep_tag(tag, exp.id)
        if exp.status.kept and exp.commit and name not in have:
            git.tag(name, exp.commit)
            lines.append(f"{exp.id}: kept in the ledger; its tag {name} was missing and is made again")
        elif exp.status.final and not exp.status.kept and name in have:
            git.delete_tag(name)
            lines.append(f"{exp.id}: ended {exp.status.value}; its tag {name} (left by an interrupted keep) is deleted")
    return lines


def rescue_foreign_commits(git: Git, tag: str, target: str, records: list[Experiment],
                           also_ours: set[str] | None = None) -> str | None:
    """Keep commits on the branch that the loop did not make on a side branch before a reset.

    Someone (or something) committed on the loop's branch while it was stopped; resetting to
    the latest kept commit must not throw their work away silently.
    """
    ours = {e.commit for e in records if e.commit} | (also_ours or set())
    head = git.head()
    foreign = [c for c in git.commits_between(target, head) if c not in ours]
    if not foreign:
        return None
    side = rescue_tag(tag, head)
    git.create_branch_at(side, head)
    return (f"loop {tag}: {len(foreign)} commit(s) on the branch were not made by the loop; "
            f"kept on branch {side} before resetting to {target[:7]}")


def start_of_new_tag(git: Git, tag: str, every: list[Experiment], from_tag: str | None) -> tuple[str | None, str | None]:
    """Where a new tag's branch starts, and a line saying why when it is not HEAD.

    `from_tag`: that tag's front (its latest kept commit). Otherwise, when another loop's branch is
    checked out (an agent's step leaves its branch checked out), that loop's baseline commit: a new
    night does not silently build on another night's keeps. Otherwise HEAD.
    """
    if from_tag is not None:
        kept = [e for e in every if e.tag == from_tag and e.status.kept and e.commit]
        if not kept:
            tags = sorted({e.tag for e in every if e.tag is not None})  # an old ledger's rows may have none
            raise LoopSetupError(f"--from {from_tag}: no kept run of that tag in the ledger"
                                 f"{'; tags: ' + ', '.join(tags) if tags else ''}")
        return kept[-1].commit, f"loop {tag}: starting from the front of tag {from_tag} ({kept[-1].id}, --from)"
    current = git.current_branch() or ""
    other = tag_of_branch(current)
    base = next((e for e in every if e.tag == other and e.status is Status.BASELINE and e.commit), None)
    if other is None or other == tag or base is None:
        return None, None
    return base.commit, (f"loop {tag}: branch {current} is checked out; starting from its baseline's commit "
                         f"{base.commit[:7]} ({base.id}), not its keeps (--from {other} starts from its front)")
