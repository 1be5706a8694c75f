"""What the loop prints: one line per experiment and a live progress line (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from gg_research.results.ledger import Experiment


class LoopUI:
    def __init__(self, console: Console | None = None) -> None:
        # soft_wrap: one experiment stays one line in a log file, whatever the terminal width.
        self.console = console or Console(highlight=False, soft_wrap=True)
        self._progress: Any = None

    def say(self, text: str) -> None:
        self.console.print(escape(text), soft_wrap=True)

    def start(self, exp_id: str, text: str, budget_s: float) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        # transient: the live line disappears when the run ends; the result line stays.
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                  console=self.console, transient=True)
        self._progress.add_task(escape(f"{exp_id} running: {text[:70]} (budget {budget_s:g} s)"), total=None)
        self._progress.start()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def result(self, exp: Experiment, names: list[str]) -> None:
        figs = "  ".join(f"{n} {exp.metrics[n]:.4f}" if n in exp.metrics else f"{n} -" for n in names)
        cost = f"  ${exp.usage.cost_usd:.3f}" if exp.usage is not None and exp.usage.cost_usd is not None else ""
        self.say(f"{exp.id}  {exp.title[:60]:<60}  {figs}  {exp.status.value:<9}  {exp.reason}{cost}")
