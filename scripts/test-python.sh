#!/usr/bin/env bash
# Runs the Python tests of the deferred-norm patch runtime (test/python) in real PyTorch.
# The interpreter: $DEFERRED_NORM_PYTHON, then python3 on the PATH, then /usr/bin/python3, the first
# that imports torch (the order of src/common/python-finder.ts, without its --python and VS Code entries). With none, as root on Debian, installs Debian's python3-torch (CPU).
set -euo pipefail
cd "$(dirname "$0")/.."

has_torch() { "$1" -c 'import torch' >/dev/null 2>&1; }

find_python() {
  local candidate
  for candidate in "${DEFERRED_NORM_PYTHON:-}" "$(command -v python3 || true)" /usr/bin/python3; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && has_torch "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! PYTHON=$(find_python); then
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    echo "test:python: no interpreter with torch; installing Debian's python3-torch" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch
    PYTHON=$(find_python) || { echo "test:python: python3-torch installed but /usr/bin/python3 still cannot import torch" >&2; exit 1; }
  else
    echo "test:python: no Python with torch found (tried \$DEFERRED_NORM_PYTHON, python3, /usr/bin/python3); set DEFERRED_NORM_PYTHON to one, or install python3-torch (Debian) / pip install torch" >&2
    exit 1
  fi
fi

# test_end_to_end.py runs the built CLI (deferred-norm pytorch): build it when a fresh clone has not.
[ -f dist/cli.js ] || npm run build --silent

echo "test:python: $PYTHON (torch $("$PYTHON" -c 'import torch; print(torch.__version__)'))"
exec "$PYTHON" -m unittest discover -s test/python -v
