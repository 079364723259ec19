#!/usr/bin/env bash
# End to end in code-server (VS Code in the browser) with headless Chromium.
#
#   bash client-vscode/test-e2e/code-server/run.sh PYTHON     (PYTHON: an interpreter with orps-lsp)
#
# Needs: Node 20 (code-server 4.96 is the last release on Node 20), a C++ toolchain,
# libkrb5-dev, ripgrep and chromium (Debian packages), and the .vsix (npm run package).
# code-server's install fetches two things from GitHub, which machines that reach
# only package registries cannot: a git dependency (@vscode/proxy-agent, also on npm)
# and ripgrep's prebuilt binary. Both are replaced here by their registry / Debian
# equivalents. The model is scripted (ORPS_SCRIPTED_MODEL) so the search takes seconds.
set -euo pipefail
PYTHON=${1:?usage: run.sh PYTHON}
HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT=$(cd "$HERE/../.." && pwd)
REPO=$(cd "$CLIENT/.." && pwd)
WORK=${ORPS_E2E_DIR:-/tmp/orps-e2e}
CS_VERSION=4.96.4
PORT=${ORPS_E2E_PORT:-8765}
VSIX=$(ls "$CLIENT"/orps-lsp-*.vsix | tail -1)

install_code_server() {
  local dir="$WORK/code-server"
  [ -x "$dir/node_modules/.bin/code-server" ] && [ -e "$dir/.installed" ] && return
  mkdir -p "$dir" && cd "$dir"
  [ -f package.json ] || echo '{"private": true}' > package.json
  npm install --no-audit --no-fund --ignore-scripts "code-server@$CS_VERSION"
  local vscode="$dir/node_modules/code-server/lib/vscode"
  sed -i 's#git+ssh://git@github.com/microsoft/vscode-proxy-agent.git\#[0-9a-f]*#https://registry.npmjs.org/@vscode/proxy-agent/-/proxy-agent-0.27.0.tgz#' "$vscode/npm-shrinkwrap.json"
  # @vscode/ripgrep's postinstall uses a cached download when one is there: give it Debian's rg.
  local cache rg_tmp
  cache="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-1.15.9"
  rg_tmp=$(mktemp -d)
  mkdir -p "$cache" && cp "$(command -v rg)" "$rg_tmp/rg"
  tar czf "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$rg_tmp" rg
  # Native modules build against the installed Node's headers (no header download).
  export npm_config_nodedir=/usr npm_config_unsafe_perm=true
  (cd node_modules/code-server && npm_config_user_agent="npm/$(npm -v) node/$(node -v) linux x64" sh ./postinstall.sh)
  npm rebuild argon2
  touch .installed
}

install_code_server
rm -rf "$WORK/project" "$WORK/user" "$WORK/extensions" "$WORK/shots"
cp -r "$REPO/examples/slowmath" "$WORK/project"
mkdir -p "$WORK/project/.vscode" "$WORK/user/User"
cat > "$WORK/project/.vscode/settings.json" <<EOF
{ "orps.interpreter": "$PYTHON", "orps.depth": 1, "orps.expansions": 1, "orps.logLevel": "debug",
  "security.workspace.trust.enabled": false }
EOF
echo '["    return len(set(items)) != len(items)\n```"]' > "$WORK/answers.json"

CS="$WORK/code-server/node_modules/.bin/code-server"
export XDG_CONFIG_HOME="$WORK/config" # code-server writes its config.yaml there, not in ~
"$CS" --extensions-dir "$WORK/extensions" --install-extension "$VSIX"
ORPS_SCRIPTED_MODEL="$WORK/answers.json" "$CS" --auth none --bind-addr "127.0.0.1:$PORT" \
  --user-data-dir "$WORK/user" --extensions-dir "$WORK/extensions" --disable-telemetry \
  --disable-update-check --disable-workspace-trust > "$WORK/code-server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 1; done
node "$HERE/drive.mjs" "http://127.0.0.1:$PORT/?folder=$WORK/project" "$WORK/project/slowmath.py" "$WORK/shots"
