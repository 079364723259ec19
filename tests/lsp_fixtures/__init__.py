"""Helpers for the language-server tests (tests/test_lsp.py)."""
