"""The fixed evaluation contract: one experiment in a child process under the budget,
evaluation on the fixed validation split, the summary block, last_run.json, integrity."""
