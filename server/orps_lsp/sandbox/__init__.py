"""Runs candidate code against the user's pytest tests, contained and profiled."""
