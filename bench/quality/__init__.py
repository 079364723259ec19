"""The quality benchmark: `python -m bench.quality.run`, `python -m bench.quality.summarize`."""
