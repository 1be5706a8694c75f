"""results/report.md: the HTML report's content in Markdown, images as files beside it."""

from __future__ import annotations

import re
from datetime import datetime

from gg_research.results.analysis import Analysis
from gg_research.results.cards import build_cards, collapse_text, curve_lines, fmt_throughput, fmt_value, headline_facts, holdout_table, passage_cite
from gg_research.results.html import MAX_REASON


def _cell(text: str) -> str:
    """Text safe inside a table cell: no pipes or line breaks."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _fence(text: str) -> str:
    """A code fence longer than any backtick run in the text, so a diff cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def render_markdown(an: Analysis, images: dict[str, str], generated: datetime) -> str:
    """`images` maps 'pareto'/'progress' to paths relative to the Markdown file."""
    title = "Morning report" + (f": {an.tag}" if an.tag else "")
    out = [f"# {title}", "", f"{an.workspace} · ledger {an.ledger.path.name} · generated {generated:%Y-%m-%d %H:%M UTC}", ""]
    if not an.experiments:
        out += [f"**No experiments in the ledger yet** ({an.ledger.path}). Run `gg-research loop` "
                "(or `gg-research step` after an agent's edit), then report again.", ""]
    elif not any(r.rank is not None for r in an.rows):
        out += [f"**None of the {len(an.experiments)} experiments has measured values for every objective "
                f"({', '.join(an.names)}): there is no front yet.**", ""]
    for note in an.notes:
        out += [f"> {note}", ""]
    if an.ledger.warnings:
        out += [f"**{len(an.ledger.warnings)} ledger problem(s); the rest is reported:**", ""]
        out += [f"- {w}" for w in an.ledger.warnings] + [""]
    if not an.experiments:
        return "\n".join(out)

    out += ["## Headline", "", "| | |", "|---|---|"]
    for label, value, detail in headline_facts(an):
        out.append(f"| {_cell(label)} | **{_cell(value)}**" + (f" ({_cell(detail)})" if detail else "") + " |")
    out += ["", "## Plots", ""]
    for name in ("pareto", "progress"):
        if name in images:
            out += [f"![{name} plot]({images[name]})", ""]
    if "curves" in images:
        out += ["## Training curves", "", "Each front member's training loss (solid) against its parent's (dashed), "
                "as the run reported it while training (shown, never used to decide).", "",
                f"![training curves]({images['curves']})", ""]
        out += [f"- **{member}**: {mine}" + (f" · parent {theirs}" if theirs else "") for member, mine, theirs in curve_lines(an)]
        out.append("")

    out += ["## All experiments, by front rank", "",
            "Rank 1 is the Pareto front of the kept runs; a discarded run's rank, in parentheses, is the rank it would have had. "
            "img/s is the training throughput; ⚠ marks a run a busy machine slowed; \"collapsed\" marks a run "
            "(or one seed of it) that broke an objective's floor, its log holds the loss curve.", ""]
    heads = ["rank", "id", "commit", *[o.display() for o in an.objectives], "img/s", "status", "title", "why"]
    out += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for row in an.rows:
        e = row.exp
        rank = "—" if row.rank is None else (str(row.rank) if e.status.kept else f"({row.rank})")
        mark = " ★" if row.on_front else (" near miss" if row.near_miss else "")
        values = [fmt_value(e.metrics.get(n)) if row.rank is not None or n not in e.metrics
                  else f"~~{fmt_value(e.metrics[n])}~~" for n in an.names]
        why = e.reason if not row.load or row.load in e.reason else f"{e.reason} [{row.load}]".strip()
        why = why if len(why) <= MAX_REASON else why[: MAX_REASON - 1] + "…"
        status = f"{e.status} · {collapse_text(an, row.collapsed)} (log `{e.log}`)" if row.collapsed and e.log else (
            f"{e.status} · {collapse_text(an, row.collapsed)}" if row.collapsed else str(e.status))
        cells = [rank, e.id + mark, e.commit[:10], *values, fmt_throughput(row.throughput, row.load), status, e.title, why]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    out.append("")

    if an.holdout:
        heads, rows, sentence = holdout_table(an)
        out += ["## Validation against the sealed test split", "",
                "The loop decides on the validation split; the test split is scored for this report only.", "",
                "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
        out += ["", sentence, ""]

    lines, flats = an.journal_lines(), an.plateau_lines()
    if lines or flats:
        out += ["## What we learned tonight", "",
                "Each result, and what the proposer said it taught when it proposed the next experiment.", ""]
        for n, (subject, lesson, by) in enumerate(lines, 1):
            out += [f"{n}. `{subject.replace('`', chr(39))}`  ", f"   {' '.join(lesson.split())} *({by})*", ""]
        if flats:
            out += ["**Plateaus.**", ""] + [f"- {text}" for text in flats] + [""]

    cards = build_cards(an)
    if cards:
        out += ["## Front members and near-misses", ""]
    for card in cards:
        out += [f"### {card.id} · {card.title or '(untitled)'}", "",
                f"*{card.kind_label}* · status {card.status} · commit `{card.commit or '—'}` · "
                + (f"proposer {card.proposer} · " if card.proposer else "") + card.metrics_line, ""]
        if card.rationale:
            out += [f"**Rationale.** {card.rationale}", ""]
        if card.expected:
            out += [f"**Expected.** {card.expected}", ""]
        out += ["**Cited passages.**" + ("" if card.citations else " none"), ""]
        for c in card.citations:
            text = str(c.get("text") or "").replace("\n", " ")
            out += [f"> *{passage_cite(c)}*  ", f"> {text}", ""]
        if card.paired:
            out += [f"**Against its parent, on the same images.** {card.paired}", ""]
        out += [f"**Decision.** {card.decision}: {card.reason or 'no reason recorded'}", "",
                f"**Diff** `{card.diff_path}`", ""]
        fence = _fence(card.diff)
        out += [f"{fence}diff", card.diff, fence, ""]
    return "\n".join(out)
