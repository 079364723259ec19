#!/usr/bin/env bash
# Set up (if needed) and run the main job: optimise the example's slow function
# with the embedded model. Prints progress, the diff, the metrics and the critique.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/orps-lsp optimize examples/slowmath/slowmath.py::has_duplicates "$@"
