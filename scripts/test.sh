#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, the real-model tests included,
# and the VS Code extension's steps (biome lint, unit tests, the .vsix built and its manifest checked) when npm is there,
# and the documentation site (mkdocs.yml, docs/) built strictly, and the lint, format and type gates (ruff, mypy).
# Arguments go to pytest. ORPS_SKIP_EXTENSION=1 leaves the extension out (e.g. when running a few Python tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

extension=0
if [ -n "${ORPS_SKIP_EXTENSION:-}" ]; then
    echo "test: ORPS_SKIP_EXTENSION is set; the VS Code extension steps were skipped"
elif command -v npm >/dev/null 2>&1; then
    # client-vscode/ through the root package.json (npm workspaces).
    npm ci --no-audit --no-fund && npm run build && npm run lint && npm test && npm run package && npm run check-vsix || extension=$?
    [ "$extension" = 0 ] || echo "test: the VS Code extension steps failed (exit $extension); running the Python tests anyway" >&2
else
    echo "test: npm not found; the VS Code extension steps (npm ci, build, lint, test, package, check-vsix) were skipped"
fi

# The documentation: --strict fails on a broken link or anchor, or a page left out of the nav.
# Not --quiet: with it mkdocs counts no warnings and --strict never fails (mkdocs/mkdocs#4126),
# so its log is kept aside and shown only when the build fails.
docs=0
docs_site=$(mktemp -d)
docs_log=$(mktemp)
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir "$docs_site" >"$docs_log" 2>&1 || docs=$?
if [ "$docs" != 0 ]; then
    cat "$docs_log" >&2
    echo "test: the documentation build (mkdocs build --strict) failed (exit $docs); running the Python tests anyway" >&2
fi
rm -rf "$docs_site" "$docs_log"

# The lint and format gates ([tool.ruff] in pyproject.toml): `ruff format server bench tests` fixes the second.
lint=0
.venv/bin/ruff check server bench tests || lint=$?
.venv/bin/ruff format --check server bench tests || lint=$?
# The type gate ([tool.mypy]: the package checked, the search core strictly).
.venv/bin/mypy || lint=$?
[ "$lint" = 0 ] || echo "test: ruff check, ruff format --check or mypy failed (exit $lint); running the Python tests anyway" >&2

python=0
.venv/bin/python -m pytest "$@" || python=$?
[ "$python" = 0 ] || exit "$python"
[ "$extension" = 0 ] || exit "$extension"
[ "$docs" = 0 ] || exit "$docs"
exit "$lint"
