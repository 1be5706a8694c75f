"""The morning report: read the ledger, analyse it, write HTML, Markdown, JSON and the plots.

`write_report` is what the loop calls after each experiment and what `gg-research report`
calls; files are replaced atomically, so a browser or a second reader never sees half a page.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime, UTC
from pathlib import Path

from gg_research.config import Config
from gg_research.results.analysis import Analysis, analyse
from gg_research.results.errors import ReportWriteError
from gg_research.results.isolation import unboxed_notice
from gg_research.results.ledger import read_workspace_ledger
from gg_research.workspace_map import WorkspaceMap

FORMATS = ("html", "md", "json")
FILE_NAMES = {"html": "report.html", "md": "report.md", "json": "report.json"}


def build_analysis(workspace: Path, config: Config, tag: str | None = None) -> Analysis:
    """Read the workspace's ledger (optionally one tag) and compute everything the report shows."""
    ledger = read_workspace_ledger(Path(workspace), tag)
    if tag is not None and not ledger.experiments:
        all_tags = read_workspace_ledger(Path(workspace)).tags()
        if all_tags:
            ledger.warnings.append(f"no experiment has tag {tag!r}; tags in the ledger: {', '.join(all_tags)}")
    an = analyse(ledger, config, Path(workspace), tag)
    unboxed = unboxed_notice(ledger.experiments)
    if unboxed:
        an.notes.append(unboxed)
    tags = ledger.tags()
    if tag is None and len(tags) > 1:
        an.notes.append(f"experiments of {len(tags)} loop tags ({', '.join(tags)}) are reported together; --tag picks one")
    return an


def report_json(an: Analysis) -> str:
    """Everything the HTML shows, for a script or a tracker: the analysis, the headline and the cards."""
    from dataclasses import asdict

    from gg_research.results.cards import build_cards, headline_facts

    data = an.to_json()
    data["headline"] = [{"label": label, "value": value, "detail": detail} for label, value, detail in headline_facts(an)]
    data["cards"] = [asdict(card) for card in build_cards(an)]
    return json.dumps(data, indent=2, sort_keys=False)


def write_report(
    workspace: Path,
    config: Config,
    tag: str | None = None,
    formats: Iterable[str] = FORMATS,
    out: Path | None = None,
) -> Path:
    """Write the report files into `out` (default <workspace>/results); return the main file.

    The main file is report.html when HTML is among the formats, otherwise the first written.
    """
    formats = _check_formats(formats)
    an = build_analysis(Path(workspace), config, tag)
    written = write_files(an, Path(out) if out is not None else WorkspaceMap(Path(workspace)).results, formats)
    return written.get("html") or written[formats[0]]


def _check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be among {FORMATS}, got {formats}")
    return formats


def write_files(an: Analysis, out_dir: Path, formats: Iterable[str] = FORMATS) -> dict[str, Path]:
    """Render an analysis into `out_dir`: {'html'|'md'|'json'|'pareto'|'progress': path written}."""
    formats = _check_formats(formats)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportWriteError(f"{out_dir}: cannot create the report folder: {exc.strerror or exc}") from None
    generated = datetime.now(UTC)
    written: dict[str, Path] = {}
    images: dict[str, Path] = {}
    if an.experiments and ("html" in formats or "md" in formats):
        from gg_research.results.pareto_plot import plot_pareto
        from gg_research.results.plots import plot_progress

        from gg_research.results.plots import plot_curves

        plots = [("pareto", plot_pareto), ("progress", plot_progress)]
        if an.curves:
            plots.append(("curves", plot_curves))
        for name, plot in plots:
            target = out_dir / f"{name}.png"
            try:
                _atomic(target, functools.partial(plot, an))
            except ReportWriteError:
                raise
            except Exception as exc:  # noqa: BLE001 - figures the data cannot be drawn with (a finite 1e308)
                # A report without one plot is worth more than none: the rest is written, the gap said.
                an.notes.append(f"the {name} plot could not be drawn from these values "
                                f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]}); it is left out")
                continue
            images[name] = target
    if "html" in formats:
        from gg_research.results.html import render_html

        written["html"] = _write_text(out_dir / FILE_NAMES["html"], render_html(an, images, generated))
    if "md" in formats:
        from gg_research.results.markdown import render_markdown

        text = render_markdown(an, {k: p.name for k, p in images.items()}, generated)
        written["md"] = _write_text(out_dir / FILE_NAMES["md"], text)
    if "json" in formats:
        written["json"] = _write_text(out_dir / FILE_NAMES["json"], report_json(an) + "\n")
    written.update(images)
    return written


def _write_text(path: Path, text: str) -> Path:
    _atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, then rename over the target."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        try:
            write(Path(tmp))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise ReportWriteError(f"{path}: cannot write: {exc.strerror or exc}") from None
