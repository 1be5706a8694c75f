"""results/report.html: one self-contained page (images inline, no network, prints legibly)."""

from __future__ import annotations

import base64
from datetime import datetime
from html import escape
from pathlib import Path

from gg_research.results.analysis import Analysis, Row
from gg_research.results.cards import (
    Card, build_cards, collapse_text, curve_lines, fmt_throughput, fmt_value, headline_facts, holdout_table, passage_cite,
)

# The page may load nothing from anywhere: images are data: URIs, style and script inline.
MAX_REASON = 160
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

CSS = """
:root { --ink:#1d1d1f; --muted:#5f6368; --line:#d9dce1; --front:#e07b00; --keep:#1f5fbf; --bad:#c62828; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink);
       max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 34px 0 10px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 17px; margin: 0 0 6px; } .sub { color: var(--muted); margin: 0 0 18px; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; margin: 0; }
.fact { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.fact dt { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.fact dd { margin: 2px 0 0; font-size: 20px; font-weight: 600; }
.fact dd small { font-size: 13px; font-weight: 400; color: var(--muted); }
.notice { border-left: 4px solid var(--bad); background: #fdf1f1; padding: 8px 12px; margin: 12px 0; }
.notice.info { border-color: var(--keep); background: #eef3fb; }
figure { margin: 14px 0; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f5f6f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.front td { background: #fff6eb; } tr.front td:first-child { border-left: 4px solid var(--front); }
.status { font-weight: 600; } .s-keep, .s-baseline { color: var(--keep); } .s-crash, .s-invalid { color: var(--bad); }
.collapsed { color: var(--bad); font-weight: 400; font-size: 12px; }
.s-discard { color: var(--muted); } .would { color: var(--muted); font-style: italic; }
.why { color: var(--muted); font-size: 12px; } td.id { white-space: nowrap; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
.card { border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; margin: 16px 0; }
.card.front { border-left: 6px solid var(--front); } .card.near { border-left: 6px solid #9a9a9a; }
.card .meta { color: var(--muted); font-size: 13px; margin-bottom: 8px; }
blockquote { margin: 8px 0; padding: 6px 12px; border-left: 3px solid var(--keep); background: #f7f9fc; }
blockquote .cite { display: block; font-size: 12px; color: var(--muted); margin-bottom: 2px; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 10px; font-size: 12px;
      white-space: pre-wrap; word-break: break-word; max-height: 420px; overflow: auto; }
pre .add { color: #116329; } pre .del { color: #82071e; } pre .hunk { color: #6639ba; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; } .card, figure, tr { break-inside: avoid; }
  pre { max-height: none; overflow: visible; font-size: 8.5pt; }
  a { color: inherit; text-decoration: none; }
  .facts { grid-template-columns: repeat(4, 1fr); gap: 5px; } .fact { padding: 4px 8px; }
  .fact dd { font-size: 12pt; } .fact dd small { font-size: 8pt; } .fact dt { font-size: 7.5pt; }
  /* Small enough that the headline and the Pareto plot share the first page. */
  figure img { max-width: 66%; } h2 { margin: 14px 0 6px; } .sub { margin-bottom: 8px; }
}
"""

# Records in the page whether both plots decoded (read back by the browser test and by anyone
# opening the DOM); it loads nothing.
RENDER_CHECK = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var el = document.getElementById('render-check');
  el.setAttribute('data-images-total', String(imgs.length));
  el.setAttribute('data-images-loaded', String(ok));
});
"""


def render_html(an: Analysis, images: dict[str, Path], generated: datetime) -> str:
    """The whole page; `images` maps 'pareto' and 'progress' to PNG files to inline."""
    title = "Morning report" + (f": {an.tag}" if an.tag else "")
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{escape(str(an.workspace))} · ledger {escape(an.ledger.path.name)} · '
        f"generated {escape(generated.strftime('%Y-%m-%d %H:%M UTC'))}</p>",
    ]
    parts += _notices(an)
    if an.experiments:
        parts.append("<section id=\"headline\"><h2>Headline</h2><dl class=\"facts\">")
        for label, value, detail in headline_facts(an):
            small = f" <small>{escape(detail)}</small>" if detail else ""
            parts.append(f'<div class="fact"><dt>{escape(label)}</dt><dd>{escape(value)}{small}</dd></div>')
        parts.append("</dl></section>")
        parts.append('<section id="plots"><h2>Plots</h2>')
        captions = {
            "pareto": "Every experiment: kept runs filled, discarded hollow, crashed and invalid runs at the "
            "shaded edge. The staircase joins the Pareto front; the shaded area beyond the baseline is the hypervolume.",
            "progress": "Hypervolume and each objective's best kept value, by experiment and by clock time; "
            "crosses on the axis are runs without metrics.",
        }
        for name in ("pareto", "progress"):
            if name in images:
                data = base64.b64encode(Path(images[name]).read_bytes()).decode("ascii")
                parts.append(
                    f'<figure><img id="img-{name}" alt="{name} plot" src="data:image/png;base64,{data}">'
                    f"<figcaption>{escape(captions[name])}</figcaption></figure>"
                )
        parts.append("</section>")
        parts += _curves(an, images.get("curves"))
        parts += _table(an)
        parts += _holdout(an)
        parts += _journal(an)
        parts += _cards(an)
    parts.append('<footer><span id="render-check" data-images-loaded="0"></span>'
                 "gg-research morning report · self-contained, nothing loaded from the network</footer>")
    parts.append(f"<script>{RENDER_CHECK}</script></body></html>")
    return "\n".join(parts)


def _notices(an: Analysis) -> list[str]:
    out: list[str] = []
    if not an.experiments:
        out.append(f'<p class="notice info" id="empty">No experiments in the ledger yet ({escape(str(an.ledger.path))}). '
                   "Run <code>gg-research loop</code> (or <code>gg-research step</code> after an agent's edit), then report again.</p>")
    elif not any(r.rank is not None for r in an.rows):
        out.append(f'<p class="notice" id="none-measured">None of the {len(an.experiments)} experiments has measured '
                   f"values for every objective ({escape(', '.join(an.names))}): there is no front yet. "
                   "See the reasons below.</p>")
    for note in an.notes:
        out.append(f'<p class="notice info">{escape(note)}</p>')
    if an.ledger.warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in an.ledger.warnings)
        out.append(f'<div class="notice" id="warnings"><strong>{len(an.ledger.warnings)} ledger problem(s); '
                   f"the rest is reported:</strong><ul>{items}</ul></div>")
    return out


def _table(an: Analysis) -> list[str]:
    heads = ["rank", "id", "commit", *[o.display() for o in an.objectives], "img/s", "status", "title"]
    out = ['<section id="ranking"><h2>All experiments, by front rank</h2>',
           '<p class="sub">Rank 1 is the Pareto front of the kept runs (and baseline). A discarded run shows, in italics, '
           "the rank it would have had; runs without metrics come last. img/s is the training throughput; ⚠ marks a run a "
           "busy machine slowed (hover for why); \"collapsed\" marks a run, or one seed of it, that broke an objective's "
           "floor (hover for the log that holds its loss curve).</p>",
           '<table id="ranking-table"><thead><tr>' + "".join(f"<th>{escape(h)}</th>" for h in heads) + "</tr></thead><tbody>"]
    for row in an.rows:
        out.append(_table_row(an, row))
    out.append("</tbody></table></section>")
    return out


def _table_row(an: Analysis, row: Row) -> str:
    e = row.exp
    if row.rank is None:
        rank = "—"
    elif e.status.kept:
        rank = str(row.rank)
    else:
        rank = f'<span class="would">({row.rank})</span>'
    marks = " ★" if row.on_front else (" near miss" if row.near_miss else "")
    cells = [
        f'<td class="num">{rank}</td>',
        f'<td class="id"><a href="#{escape(e.id)}">{escape(e.id)}</a>{escape(marks)}</td>' if (row.on_front or row.near_miss)
        else f'<td class="id">{escape(e.id)}</td>',
        f"<td><code>{escape(e.commit[:10])}</code></td>",
        *[f'<td class="num">{_value_cell(row, n)}</td>' for n in an.names],
        f'<td class="num"{_load_title(row)}>{escape(fmt_throughput(row.throughput, row.load))}</td>',
        f'<td class="status s-{escape(e.status)}">{escape(e.status)}{_collapse(an, row)}</td>',
        f"<td>{escape(e.title)}{_why(e.reason)}</td>",
    ]
    cls = ' class="front"' if row.on_front else ""
    return f"<tr{cls}>" + "".join(cells) + "</tr>"


def _collapse(an: Analysis, row: Row) -> str:
    """The collapse mark under the status, with the run's log (its loss curve) to hover."""
    if not row.collapsed:
        return ""
    where = f' title="loss curve in {escape(row.exp.log)}"' if row.exp.log else ""
    return f'<div class="collapsed"{where}>{escape(collapse_text(an, row.collapsed))}</div>'


def _load_title(row: Row) -> str:
    return f' title="{escape(row.load)}"' if row.load else ""


def _why(reason: object) -> str:
    """The decision's reason under the title, so the table alone says what went wrong."""
    if not reason:
        return ""
    text = str(reason)
    text = text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
    return f'<div class="why">{escape(text)}</div>'


def _value_cell(row: Row, name: str) -> str:
    value = row.exp.metrics.get(name)
    if row.rank is None and value is not None:
        # An invalid or unfinished run's numbers are shown for the record but not trusted.
        return f'<s title="not trusted: {escape(row.exp.status)}">{escape(fmt_value(value))}</s>'
    return escape(fmt_value(value))


def _curves(an: Analysis, image: Path | None) -> list[str]:
    """Each front member's training curve against its parent's, and what each curve did in words."""
    if image is None:
        return []
    data = base64.b64encode(Path(image).read_bytes()).decode("ascii")
    out = ['<section id="curves"><h2>Training curves</h2>',
           '<p class="sub">Each front member\'s training loss (solid) against its parent\'s (dashed), over the share of '
           "its run, as the run reported it while training (shown, never used to decide).</p>",
           f'<figure><img id="img-curves" alt="training curves" src="data:image/png;base64,{data}"></figure>',
           '<ul id="curve-readings">']
    for member, mine, theirs in curve_lines(an):
        parent = f" <small>· parent {escape(theirs)}</small>" if theirs else ""
        out.append(f"<li><strong>{escape(member)}</strong>: {escape(mine)}{parent}</li>")
    out += ["</ul>", "</section>"]
    return out


def _journal(an: Analysis) -> list[str]:
    lines, flats = an.journal_lines(), an.plateau_lines()
    if not lines and not flats:
        return []
    out = ['<section id="journal"><h2>What we learned tonight</h2>',
           '<p class="sub">Each result, and what the proposer said it taught when it proposed the next experiment.</p>']
    if lines:
        out.append('<ol class="journal">')
        out += [f"<li><code>{escape(subject)}</code><blockquote>{escape(lesson)}"
                f'<span class="cite">{escape(by)}</span></blockquote></li>' for subject, lesson, by in lines]
        out.append("</ol>")
    if flats:
        out.append('<p><strong>Plateaus.</strong></p><ul id="plateaus">')
        out += [f'<li class="plateau">{escape(text)}</li>' for text in flats]
        out.append("</ul>")
    out.append("</section>")
    return out


def _holdout(an: Analysis) -> list[str]:
    if not an.holdout:
        return []
    heads, rows, sentence = holdout_table(an)
    out = ['<section id="holdout"><h2>Validation against the sealed test split</h2>',
           '<p class="sub">The loop decides on the validation split; the test split is scored for this report only.</p>',
           "<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in heads) + "</tr></thead><tbody>"]
    out += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows]
    out += ["</tbody></table>", f'<p id="optimism">{escape(sentence)}</p>', "</section>"]
    return out


def _cards(an: Analysis) -> list[str]:
    cards = build_cards(an)
    if not cards:
        return []
    out = ['<section id="cards"><h2>Front members and near-misses</h2>']
    for card in cards:
        out.append(_card(card))
    out.append("</section>")
    return out


def _card(card: Card) -> str:
    kind = "front" if card.on_front else "near"
    parts = [f'<article class="card {kind}" id="{escape(card.id)}">',
             f"<h3>{escape(card.id)} · {escape(card.title or '(untitled)')}</h3>",
             f'<div class="meta">{escape(card.kind_label)} · status {escape(card.status)} · '
             f"commit <code>{escape(card.commit or '—')}</code> · "
             + (f"proposer {escape(card.proposer)} · " if card.proposer else "") + f"{escape(card.metrics_line)}</div>"]
    if card.rationale:
        parts.append(f"<p><strong>Rationale.</strong> {escape(card.rationale)}</p>")
    if card.expected:
        parts.append(f"<p><strong>Expected.</strong> {escape(card.expected)}</p>")
    if card.citations:
        parts.append("<p><strong>Cited passages.</strong></p>")
        for c in card.citations:
            parts.append(f'<blockquote><span class="cite">{escape(passage_cite(c))}</span>{escape(str(c.get("text") or ""))}</blockquote>')
    else:
        parts.append("<p><strong>Cited passages.</strong> none</p>")
    if card.paired:
        parts.append(f"<p><strong>Against its parent, on the same images.</strong> {escape(card.paired)}</p>")
    parts.append(f"<p><strong>Decision.</strong> {escape(card.decision)}: {escape(card.reason or 'no reason recorded')}</p>")
    parts.append(f"<p><strong>Diff</strong> <code>{escape(card.diff_path or '')}</code></p>")
    parts.append(f"<pre>{_diff_html(card.diff)}</pre>")
    parts.append("</article>")
    return "\n".join(parts)


def _diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        cls = "add" if line.startswith("+") and not line.startswith("+++") else (
            "del" if line.startswith("-") and not line.startswith("---") else ("hunk" if line.startswith("@@") else ""))
        lines.append(f'<span class="{cls}">{escape(line)}</span>' if cls else escape(line))
    return "\n".join(lines)
