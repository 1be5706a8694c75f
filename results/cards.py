"""The content shared by the HTML and Markdown reports: headline facts and experiment cards."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gg_research.results.analysis import Analysis
from gg_research.results.journal import cost_text, tokens_text

MAX_DIFF_LINES = 300


def fmt_value(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.4g}"


def fmt_throughput(images_per_s: float | None, load: str | None) -> str:
    """Training images per second, with a warning sign when a busy machine skewed the run."""
    if images_per_s is None:
        return "—"
    return f"{images_per_s:.1f}" + (" ⚠" if load else "")


def collapse_text(an: Analysis, names: list[str]) -> str:
    """'collapsed: Dice' for a run that broke a floor on those objectives ('' for none)."""
    labels = {o.name: o.display() for o in an.objectives}
    return "collapsed: " + ", ".join(labels.get(n, n) for n in names) if names else ""


def baseline_collapse_fact(an: Analysis) -> tuple[str, str, str] | None:
    """The headline fact that counts the baselines' collapsed seeds (None: one seed, none collapsed)."""
    found, n = an.baseline_collapses, an.baseline_seed_count
    if n < 2 and not found:
        return None
    if not found:
        return ("baseline seeds collapsed", f"0 of {n}", "no seed of the unchanged baseline broke a floor")
    which = "; ".join(f"{b} seed {seed} ({collapse_text(an, names)})" for b, seed, names in found)
    # Under the other tests a collapsed seed either widens the margin past real gains (margin) or,
    # as the parent paired with, calls anything better (paired); paired-all pairs every seed.
    advice = "" if an.keep_test == "paired-all" else \
        '; [keep] test = "paired-all" pairs each change with every baseline seed instead'
    return ("baseline seeds collapsed", f"{len(found)} of {n}",
            f"{which}: the target is bistable at this budget, and a collapsed seed makes any change look better{advice}")


def passage_cite(c: dict[str, Any]) -> str:
    """'thesis.pdf, p. 87–88, §3.3.4 Training schedule' from a citation record."""
    bits = [str(c.get("source") or "unknown source")]
    page, end = c.get("page"), c.get("page_end")
    if page is not None:
        bits.append(f"p. {page}–{end}" if end not in (None, page) else f"p. {page}")
    if c.get("section"):
        bits.append(f"§{c['section']}")
    text = ", ".join(bits)
    return f"{text} [{c['chunk_id']}]" if c.get("chunk_id") else text


@dataclass
class Card:
    id: str
    title: str
    status: str
    commit: str
    on_front: bool
    kind_label: str
    metrics_line: str
    rationale: str
    expected: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    decision: str = ""
    reason: str = ""
    diff_path: str = ""
    diff: str = ""
    proposer: str = ""  # claude, optuna, scripted, agent (a coding agent through step or MCP), baseline
    paired: str = ""  # its paired interval against its parent on the same validation images


def build_cards(an: Analysis) -> list[Card]:
    """A card for each front member, then each near-miss."""
    cards: list[Card] = []
    for exp_id in [*an.front, *an.near_misses]:
        row = an.row(exp_id)
        e = row.exp
        hyp = e.hypothesis
        cited = hyp.get("citations")
        citations = cited if isinstance(cited, list) else []
        expected = hyp.get("expected")
        diff_path = str(e.diff)
        cards.append(
            Card(
                id=e.id,
                title=e.title,
                status=e.status,
                commit=e.commit,
                on_front=row.on_front,
                kind_label=f"front rank {row.rank}" if row.on_front else "near miss (discarded within one noise margin of the front)",
                metrics_line=", ".join(f"{o.display()} {fmt_value(e.metrics.get(o.name))}" for o in an.objectives),
                rationale=str(hyp.get("rationale") or ""),
                expected=", ".join(f"{k} {v}" for k, v in expected.items()) if isinstance(expected, dict) else "",
                citations=[c for c in citations if isinstance(c, dict)],
                decision=e.status.value,
                reason=e.reason,
                diff_path=diff_path,
                diff=read_diff(an.workspace, diff_path),
                proposer=e.proposer,
                paired=paired_text(an, e.id),
            )
        )
    return cards


def paired_text(an: Analysis, exp_id: str) -> str:
    """'vs e0002: ΔDice +0.0310 [+0.0120, +0.0500] (95%, 32 images); ...' for a kept run, else ''."""
    found = an.intervals.get(exp_id)
    if not found:
        return ""
    labels = {o.name: o.display() for o in an.objectives}
    parent = an.row(exp_id).exp.parent
    return f"vs {parent}: " + "; ".join(iv.text(labels.get(name)) for name, iv in found.items())


def holdout_table(an: Analysis) -> tuple[list[str], list[list[str]], str]:
    """(headings, rows, optimism sentence) of validation against the sealed test split."""
    labels = [o.display() for o in an.objectives]
    heads = ["id", "title", *[f"{label} val" for label in labels], *[f"{label} test" for label in labels], "test images"]
    rows = [[h.id, h.title, *[fmt_value(h.val[n]) for n in an.names], *[fmt_value(h.test[n]) for n in an.names],
             str(h.images)] for h in an.holdout]
    if an.optimism is None:
        sentence = "Selection optimism needs the baseline and at least one other front member scored on the test split."
    else:
        sentence = ("Selection optimism (the front's mean validation gain over the baseline minus its mean test gain): "
                    + ", ".join(f"{label} {an.optimism[n]:+.4f}" for label, n in zip(labels, an.names)) + ".")
    return heads, rows, sentence


def read_diff(workspace: Path, rel: str) -> str:
    """The patch text, or a one-line reason it cannot be shown."""
    if not rel:
        return "(no diff recorded)"
    root = Path(workspace).resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        return f"(diff path {rel} lies outside the workspace; not shown)"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"(diff file {rel} not found)"
    except OSError as exc:
        return f"(diff file {rel} unreadable: {exc.strerror or exc})"
    if not text.strip():
        return "(empty diff)"
    lines = text.splitlines()
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"... {len(lines) - MAX_DIFF_LINES} more lines in {rel}"]
    return "\n".join(lines)


def headline_facts(an: Analysis) -> list[tuple[str, str, str]]:
    """(label, value, detail) for the headline, in reading order."""
    counts = an.counts()
    n = len(an.experiments)
    hours = an.hours
    facts: list[tuple[str, str, str]] = [
        ("experiments", str(n), f"over {hours:.1f} h" if hours is not None else "no times recorded"),
        ("per hour", f"{an.per_hour:.1f}" if an.per_hour else "—", ""),
        ("keeps / discards / crashes", f"{counts['keep']} / {counts['discard']} / {counts['crash']}",
         _others(counts)),
    ]
    for o in an.objectives:
        best = an.best.get(o.name)
        facts.append((f"best {o.display()}", fmt_value(best["value"]) if best else "—", best["id"] if best else "no kept run"))
    facts.append(("front size", str(len(an.front)), ", ".join(an.front)))
    collapse = baseline_collapse_fact(an)
    if collapse:
        facts.append(collapse)
    if an.plateaus:
        longest = max(an.plateaus, key=lambda p: p.length)
        facts.append(("longest plateau", f"{longest.length} runs", f"{longest.ids[0]}..{longest.ids[-1]} without a keep"))
    if an.cost.requests:
        facts.append(("proposer cost (estimated)", cost_text(an.cost), tokens_text(an.cost)))
    facts.append(("hypervolume gain over the baseline", *an.hypervolume_fact()))
    return facts


def _others(counts: dict[str, int]) -> str:
    bits = [f"{counts[k]} {k}" for k in ("invalid", "refused", "interrupted", "running") if counts.get(k)]
    bits.append(f"{counts['baseline']} baseline")
    return ", ".join(bits)


def curve_lines(an: Analysis) -> list[tuple[str, str, str]]:
    """(front member, its curve's reading, its parent's) for the report's curves section."""
    out = []
    for member, parent in an.curve_parents.items():
        mine = an.curve_reading(member) or "no curve recorded"
        theirs = f"{parent}: {an.curve_reading(parent) or 'no curve recorded'}" if parent else ""
        out.append((member, mine, theirs))
    return out
