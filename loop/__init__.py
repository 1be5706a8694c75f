"""The overnight loop: proposers, the prompt, applying edits, git, the runner, the keep
rule, the ledger writer, resume.

    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.loop.proposers.select import proposer_factory

    engine = LoopEngine(workspace, config, Options(tag="nov22", max_experiments=10),
                        proposer_factory("optuna"))
    engine.run()        # 0 when it stops by itself, 130 on Ctrl-C/SIGTERM

ARCHITECTURE.md's data flow names the module of each step (propose, apply, run, decide,
ledger) and of the drivers around them (several experiments at once, an agent's edit).
"""
