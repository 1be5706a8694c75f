"""The overnight loop: propose a hypothesis, edit the mutable files, commit, run under the budget,
keep or revert by the keep rule, log to results/, and repeat until told to stop.

Runs on branch autoresearch/TAG; the same tag again resumes it (after a kill, a reboot or Ctrl-C).
A new tag starts at HEAD; when another loop's branch is checked out (an agent's `step` leaves
autoresearch/agent checked out), at that loop's baseline commit instead, so one night never
silently builds on another's keeps; --from TAG starts from that tag's front on purpose.
Each experiment prints one line (id, title, objectives, status, why, Claude's estimated cost); Ctrl-C
stops the running experiment, records it as interrupted, resets the branch and exits 130.

--show-prompt prints what Claude would receive next for the tag's current state (retrieved
passages included) and exits, without calling the API or touching the branch; no API key needed.
To steer a running night, add a note: gg-research note "try the focal loss on thin defects".

--workers N keeps N experiments in flight as Ray tasks (a Ray started here, or the cluster in
[parallel] address or RAY_ADDRESS), each in its own git worktree beside the workspace; each
result is judged in arrival order against the front as it stands then, and the branch points at
the newest keep.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta

from gg_research.commands.args import positive


def _tag(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value) or ".." in value or value.endswith((".lock", ".")):
        raise argparse.ArgumentTypeError(f"invalid tag {value!r}: use letters, digits, '.', '_' or '-' (a git ref name)")
    return value


def _until(value: str) -> datetime:
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value)
    if not m:
        raise argparse.ArgumentTypeError(f"invalid time {value!r}: use HH:MM (24 h, local time)")
    now = datetime.now().astimezone()
    at = now.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", required=True, type=_tag, help="name of this loop: branch autoresearch/TAG, tags gg/TAG/<id>; the same tag resumes")
    parser.add_argument("--from", dest="from_tag", type=_tag, metavar="TAG",
                        help="start a new tag from the front (latest kept commit) of tag TAG; by default a new tag starts at "
                             "HEAD, or at the baseline's commit when another loop's branch is checked out")
    parser.add_argument("--proposer", choices=_proposer_kinds(), default=None,
                        help="where hypotheses come from (default: [proposer] kind, auto = claude with ANTHROPIC_API_KEY, else optuna)")
    parser.add_argument("--script", metavar="FILE", help="JSONL hypotheses for --proposer scripted (default: [proposer] script)")
    parser.add_argument("--budget", type=positive(float), metavar="S",
                        help="training budget per run in seconds, or the time cap of an images budget (default: [run] budget_s)")
    parser.add_argument("--max-experiments", type=positive(int), metavar="N", help="stop after N experiments (the baseline not counted)")
    parser.add_argument("--until", type=_until, metavar="HH:MM", help="stop before a run that would end after this local time")
    parser.add_argument("--baseline-seeds", type=positive(int), metavar="N",
                        help="runs of the baseline to measure noise (default: [keep] baseline_seeds)")
    parser.add_argument("--no-report", action="store_true", help="do not refresh results/report.html after each experiment")
    parser.add_argument("--stop-after-plateau", type=positive(int), metavar="N",
                        help="stop after N experiments in a row without a keep "
                             "(default: go on; the prompt asks for a different kind of change after [proposer] plateau_after)")
    parser.add_argument("--workers", type=positive(int), metavar="N",
                        help="experiments in flight at once, on Ray workers, each in its own git worktree; decisions stay in "
                             "arrival order (default: [parallel] workers, 1 = serial; needs pip install 'gg-research[parallel]')")
    parser.add_argument("--show-prompt", nargs="?", const="text", choices=["text", "json"], metavar="FORMAT",
                        help="print what Claude would receive next for this tag (text, or json: the exact request body) and exit; calls no API")


def _proposer_kinds() -> list[str]:
    """The kinds `[proposer] kind` allows, read off the config's own field."""
    from typing import get_args

    from gg_research.config import ProposerSection

    return list(get_args(ProposerSection.model_fields["kind"].annotation))


def run(args: argparse.Namespace) -> int:
    from gg_research.commands.overrides import with_flags
    from gg_research.config import CONFIG_NAME, find_workspace, load_config
    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.loop.errors import LoopSetupError
    from gg_research.loop.proposers.select import proposer_factory
    from gg_research.loop.ui import LoopUI

    if args.script and args.proposer not in (None, "scripted"):
        raise LoopSetupError(f"--script goes with --proposer scripted, not {args.proposer}")
    ws = find_workspace()
    config = with_flags(load_config(ws / CONFIG_NAME), budget_s=args.budget, baseline_seeds=args.baseline_seeds,
                        workers=args.workers)
    if args.show_prompt:
        import sys

        from gg_research.loop.preview import show_prompt

        sys.stdout.write(show_prompt(ws, config, args.tag, args.show_prompt, say=lambda t: print(t, file=sys.stderr)))
        return 0
    from gg_research.commands.isolation import say_if_unboxed

    say_if_unboxed(config)
    kind = "scripted" if args.script else args.proposer
    options = Options(tag=args.tag, max_experiments=args.max_experiments, until=args.until,
                      write_report=not args.no_report, stop_after_plateau=args.stop_after_plateau, from_tag=args.from_tag)
    if config.parallel.workers > 1:
        from gg_research.loop.parallel import ParallelEngine, ParallelUI

        ui: LoopUI = ParallelUI()
        return ParallelEngine(ws, config, options, proposer_factory(kind, args.script, say=ui.say),
                              workers=config.parallel.workers, ui=ui).run()
    ui = LoopUI()
    engine = LoopEngine(ws, config, options, proposer_factory(kind, args.script, say=ui.say), ui=ui)
    return engine.run()
