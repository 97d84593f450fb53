#!/usr/bin/env bash
# Start Strongroom on the embedded default (SQLite + a file root key in ./strongroom-data),
# listening on 127.0.0.1:8080. Installs the package into .venv on first use.
# Extra arguments go to `strongroom serve` (for example --port 9000 --data-dir /srv/kms).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/strongroom ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -e .
fi
exec .venv/bin/strongroom serve "$@"
