#!/usr/bin/env bash
# Sets up the workspace, then runs the whole test suite: ruff (lint and format check), colcon
# build of the three packages from a clean tree, and pytest over every package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

echo "[test] ruff check, ruff format --check"
ruff check .
ruff format --check .

echo "[test] colcon build (clean tree)"
ws=$(mktemp -d)
trap 'rm -rf "$ws"' EXIT
colcon --log-base "$ws/log" build --base-paths src --build-base "$ws/build" --install-base "$ws/install" \
  --event-handlers console_direct- summary+
export TWIST_COLCON_INSTALL="$ws/install"

echo "[test] pytest"
set +e
python -m pytest "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "[test] pytest collected no tests: failing" >&2
  exit 1
fi
exit $rc
