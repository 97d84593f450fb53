#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# SoftHSM2 is the HSM of the PKCS#11 tests; install it where it is missing.
# PostgreSQL (Debian's) is the database of the multi-node tests; each run starts a private
# cluster in a temp dir (tests/support/postgres.py), as the postgres user when run as root.
MISSING=""
[ -e /usr/lib/softhsm/libsofthsm2.so ] || MISSING="$MISSING softhsm2 opensc"
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || MISSING="$MISSING postgresql"
# HAProxy runs docs/deployment.md's load balancer configuration in front of two nodes.
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || MISSING="$MISSING haproxy"
if [ -n "$MISSING" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # shellcheck disable=SC2086
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $MISSING >/dev/null
fi
# Debian's Chromium is the browser of the console tests (Playwright drives it, never downloads one).
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
# Two workers: most tests wait on live servers, subprocesses and propagation windows, so two
# processes keep both cores busy (tests must be xdist-safe: deterministic ids, free ports).
exec .venv/bin/pytest -n 2 --durations=25 "$@"
