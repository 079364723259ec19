"""Hostile candidates for the sandbox: see cases.py."""
