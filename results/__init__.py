"""Reading the ledger, the Pareto front and hypervolume, and the morning report."""
