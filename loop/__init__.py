"""The overnight loop: proposers, the prompt, applying edits, git, the runner, the keep
rule, the ledger writer, resume.

    from gg_research.loop.engine import LoopEngine, Options
    from gg_research.loop.proposers.select import proposer_factory

    engine = LoopEngine(workspace, config, Options(tag="nov22", max_experiments=10),
                        proposer_factory("optuna"))
    engine.run()        # 0 when it stops by itself, 130 on Ctrl-C/SIGTERM

Modules: engine (orchestration), step (run, re-run and judge one experiment), records (the
ledger records it writes, typed in results.record), grounding (the knowledge base's passages
and citations), hypothesis, apply (edit checks, EditRefused), git, lock (one loop per
workspace), keep (the keep rule, Decision), integrity (frozen inputs, commit scope), state (the
proposer's view), prompt (Claude's prompt and tools), search_space ('# search:' annotations),
resume (branch set-up and recovery), runner (RunFn), ui (printed lines), proposers/ (base,
claude, optuna, scripted, select).
"""
