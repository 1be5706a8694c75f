"""The night's journal, defined once: what each result taught, each experiment's line of memory,
plateaus and cost.

The prompt (loop.state) and the report (results.analysis) both call these, as they both call
results.pareto.near_misses, so Claude and the morning reader are told the same night.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gg_research.results.record import Experiment, Lesson, Status, Usage

MAX_REASON = 120
MAX_LESSON = 240
MAX_SHORT_TITLE = 80
KEEP_FULL = 8  # the newest lines stay whole whatever the budget: they are what the next idea builds on


def ran(e: Experiment) -> bool:
    """It was committed and ended (measured, crashed or failed a check): not refused, not interrupted.
    An imported row ran before gg-research, whether or not git still has its commit."""
    return e.status.final and e.status is not Status.INTERRUPTED and (bool(e.commit) or e.imported is not None)


def imported_history(experiments: Sequence[Experiment]) -> list[Experiment]:
    """The experiments read from a results.tsv kept before gg-research (whatever their tag), in order."""
    return [e for e in experiments if e.imported is not None and e.status.final]


def lesson_subject(records: Sequence[Experiment]) -> Experiment | None:
    """The result the next proposal's lesson is about: the latest experiment that ran."""
    return next((e for e in reversed(records) if ran(e)), None)


@dataclass
class JournalEntry:
    lesson: Lesson
    subject: Experiment | None  # the experiment whose result taught it (None: not named or not in the ledger)
    stated_by: Experiment  # the experiment whose proposal stated it


def journal(records: Sequence[Experiment]) -> list[JournalEntry]:
    """One entry per result that taught something, in the order the lessons were stated.

    A hypothesis refused and proposed again restates the lesson about the same result; the
    latest statement wins.
    """
    by_id = {e.id: e for e in records}
    entries: dict[str, JournalEntry] = {}
    for e in records:
        if e.lesson is None:
            continue
        key = e.lesson.about if e.lesson.about in by_id else f"?{e.id}"
        entries.pop(key, None)
        entries[key] = JournalEntry(e.lesson, by_id.get(e.lesson.about), e)
    return list(entries.values())


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def memory_line(e: Experiment, names: Sequence[str], lesson: str = "") -> str:
    """An experiment in one line: id, outcome, title, objectives, why, and what it taught."""
    figs = " ".join(f"{n}={e.metrics[n]:.4f}" for n in names if n in e.metrics)
    line = f"- {e.id} [{e.status}] {e.title} {figs}".rstrip()
    if e.reason:
        line += f" :: {_cut(e.reason, MAX_REASON)}"
    if lesson:
        line += f" | learned: {_cut(lesson, MAX_LESSON)}"
    return line


def _short_line(e: Experiment) -> str:
    return f"- {e.id} [{e.status}] {_cut(e.title, MAX_SHORT_TITLE)}"


def _summary_line(group: Sequence[Experiment]) -> str:
    counts = Counter(str(e.status) for e in group)
    kept = [e.id for e in group if e.status.kept]
    what = ", ".join(f"{n} {s}" for s, n in counts.most_common())
    line = f"- {group[0].id}..{group[-1].id}: {len(group)} earlier experiments, summarised ({what})"
    return line + (f"; kept: {', '.join(kept)} (listed under the kept runs)" if kept else "")


def night_memory(records: Sequence[Experiment], names: Sequence[str], budget_tokens: int,
                 count_tokens: Callable[[str], int]) -> list[str]:
    """Every experiment of the night as a line, within `budget_tokens`.

    When the lines do not fit, the oldest lose their figures, reason and lesson first (title and
    outcome stay); if that is not enough, the oldest are summarised into one line of counts.
    The newest KEEP_FULL lines always stay whole.
    """
    lessons = {j.subject.id: j.lesson.text for j in journal(records) if j.subject is not None}
    full = [memory_line(e, names, lessons.get(e.id, "")) for e in records]
    short = [_short_line(e) for e in records]
    cost_full = [count_tokens(x) for x in full]
    cost_short = [count_tokens(x) for x in short]
    older = max(0, len(records) - KEEP_FULL)
    total = sum(cost_full)
    for k in range(older + 1):  # the oldest k shortened
        if total <= budget_tokens:
            return short[:k] + full[k:]
        if k < older:
            total += cost_short[k] - cost_full[k]
    tail = sum(cost_full[older:])
    for m in range(1, older + 1):  # the oldest m summarised, the rest of the older ones short
        head = _summary_line(records[:m])
        if count_tokens(head) + sum(cost_short[m:older]) + tail <= budget_tokens:
            return [head] + short[m:older] + full[older:]
    return ([_summary_line(records[:older])] if older else []) + full[older:]


@dataclass
class Plateau:
    """Experiments that ran in a row without a keep; `ended_by` is the keep that ended it (None: still on)."""

    ids: list[str]
    ended_by: str | None = None

    @property
    def length(self) -> int:
        return len(self.ids)

    @property
    def open(self) -> bool:
        return self.ended_by is None


def plateaus(records: Sequence[Experiment]) -> list[Plateau]:
    """Every stretch of runs without a keep, after the baseline or a keep (refused or interrupted ones do not count)."""
    out: list[Plateau] = []
    current: list[str] = []
    started = False
    for e in records:
        if e.status.kept:
            if current:
                out.append(Plateau(current, e.id))
            current, started = [], True
        elif started and ran(e):
            current.append(e.id)
    if current:
        out.append(Plateau(current))
    return out


def current_plateau(records: Sequence[Experiment]) -> Plateau | None:
    """The stretch without a keep the night is in now, if any."""
    found = plateaus(records)
    return found[-1] if found and found[-1].open else None


def night_cost(records: Sequence[Experiment]) -> Usage:
    """The proposer's tokens and estimated cost over these experiments."""
    total = Usage()
    for e in records:
        if e.usage is not None:
            total = total + e.usage
    return total


def tokens_text(u: Usage) -> str:
    """'12 requests: 48,210 in, 6,034 out, cache 30,120 read / 9,870 written tokens'."""
    return (f"{u.requests} request{'s' if u.requests != 1 else ''}: {u.input_tokens:,} in, {u.output_tokens:,} out, "
            f"cache {u.cache_read_tokens:,} read / {u.cache_write_tokens:,} written tokens")


def cost_text(u: Usage) -> str:
    return "cost unknown (no price for the model)" if u.cost_usd is None else f"${u.cost_usd:.2f}"


def usage_text(u: Usage) -> str:
    """'$0.41 (12 requests: ... tokens)', for the loop's lines."""
    return f"{cost_text(u)} ({tokens_text(u)})"
