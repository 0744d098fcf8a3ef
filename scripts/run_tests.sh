#!/usr/bin/env bash
# Runs the test suite; fails if pytest collected or ran no test (exit 5 must not pass as success).
set -uo pipefail
cd "$(dirname "$0")/.."
export MAEBENCH_NO_PROGRESS=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# The cluster tests run a real single-node Slurm (tests/suite/conftest.py starts and stops it): install its
# Debian packages here, idempotently (root only; elsewhere those tests say why they are skipped).
if [ "$(id -u)" = 0 ]; then bash scripts/local_slurm.sh install; fi
.venv/bin/python -m pytest -q -p no:cacheprovider --timeout=900 "$@" tests
status=$?
if [ "$status" -eq 5 ]; then echo "run_tests: pytest ran no tests: failing" >&2; exit 1; fi
exit "$status"
