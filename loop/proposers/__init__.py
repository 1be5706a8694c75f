"""Proposers: where hypotheses come from (claude, optuna, scripted)."""
