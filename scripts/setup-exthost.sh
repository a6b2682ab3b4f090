#!/usr/bin/env bash
# Installs what the extension-host tests need, outside the project's dependencies:
# Debian's Chromium (the workbench client) and code-server 4.100.3 (a VS Code 1.100.3
# server build with a real Node extension host) in the git-ignored .vscode-test/.
# Idempotent: a second run only checks. Each step works around a trap of installing code-server offline as root.
set -euo pipefail
cd "$(dirname "$0")/.."

CODE_SERVER_VERSION=4.100.3
DEST=.vscode-test/code-server
VSCODE_DIR="$DEST/node_modules/code-server/lib/vscode"
SERVER_MAIN="$VSCODE_DIR/out/server-main.js"

# Ready means the pinned version with its postinstall done (rg and node-pty are what it builds):
# an install cut short leaves server-main.js behind, and must not count as done.
installed() {
  [ -f "$SERVER_MAIN" ] &&
    [ -x "$VSCODE_DIR/node_modules/@vscode/ripgrep/bin/rg" ] &&
    [ -f "$VSCODE_DIR/node_modules/node-pty/build/Release/pty.node" ] &&
    grep -q "\"version\": \"$CODE_SERVER_VERSION\"" "$DEST/node_modules/code-server/package.json"
}

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
# node-pty and kerberos compile during code-server's postinstall.
for tool in make g++ python3; do command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool"); done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-exthost: needs root to apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! installed; then
  # @vscode/ripgrep downloads rg unless its cache already holds the tarball: build it from Debian's rg.
  tmp="${TMPDIR:-/tmp}"
  cache="$tmp/vscode-ripgrep-cache-1.15.11"
  tarball="$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
  if [ ! -f "$tarball" ]; then
    mkdir -p "$cache" "$cache/stage"
    cp "$(command -v rg)" "$cache/stage/rg"
    tar -czf "$tarball" -C "$cache/stage" rg
  fi
  # npm calls a present code-server@pinned "up to date" and skips its postinstall: start over.
  rm -rf "$DEST/node_modules"
  mkdir -p "$DEST"
  [ -f "$DEST/package.json" ] || echo '{"private":true}' > "$DEST/package.json"
  # code-server's postinstall refuses root without unsafe-perm; node-pty's runs `npx node-gyp`.
  (cd "$DEST" && npm_config_unsafe_perm=true npm_config_yes=true \
    npm install --no-audit --no-fund --no-save --foreground-scripts=false "code-server@$CODE_SERVER_VERSION" >/dev/null)
fi
installed || { echo "setup-exthost: code-server $CODE_SERVER_VERSION is incomplete after install ($VSCODE_DIR)" >&2; exit 1; }
echo "setup-exthost: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), code-server $CODE_SERVER_VERSION ready"
