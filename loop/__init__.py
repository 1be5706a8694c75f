"""The overnight loop: proposers, the prompt, applying edits, git, the runner, the keep
rule, the ledger writer, resume."""
