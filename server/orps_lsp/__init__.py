"""orps-lsp: Outcome-Refining Process Supervision for your Python functions, judged by your tests."""

__version__ = "0.1.0"
