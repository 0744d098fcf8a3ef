#!/usr/bin/env bash
# Runs the test suite; fails if pytest collected or ran no test (exit 5 must not pass as success).
set -uo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# The cluster tests run a real single-node Slurm (tests/suite/conftest.py starts and stops it): install its
# Debian packages here, idempotently (root only; elsewhere those tests say why they are skipped).
if [ "$(id -u)" = 0 ]; then bash scripts/local_slurm.sh install; fi
# The linter and the formatter (ruff, configured in pyproject.toml) over the whole tree, first: a second.
.venv/bin/ruff check . && .venv/bin/ruff format --check . || {
  echo "run_tests: ruff found problems above; fix them (.venv/bin/ruff check --fix . && .venv/bin/ruff format .)" >&2
  exit 1
}
.venv/bin/python -m pytest -q -p no:cacheprovider --timeout=900 "$@" tests
status=$?
if [ "$status" -eq 5 ]; then echo "run_tests: pytest ran no tests: failing" >&2; exit 1; fi
exit "$status"
