#!/usr/bin/env bash
# Runs the test suite; fails if pytest collected or ran no test (exit 5 must not pass as success).
set -uo pipefail
cd "$(dirname "$0")/.."
export MAEBENCH_NO_PROGRESS=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
.venv/bin/python -m pytest -q -p no:cacheprovider --timeout=900 "$@" tests
status=$?
if [ "$status" -eq 5 ]; then echo "run_tests: pytest ran no tests: failing" >&2; exit 1; fi
exit "$status"
