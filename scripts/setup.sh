#!/usr/bin/env bash
# Creates .venv in the repo and installs the pinned stack. Idempotent: a second run takes seconds.
# mmcv 2.1.0 has no wheel for our torch, so it is built from source once (9-25 minutes on
# 2 cores) into a wheel cache keyed by the torch version: pip's own cache would hand back a wheel
# built against another torch, which then fails to import with "undefined symbol".
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
PIP="$VENV/bin/pip --disable-pip-version-check"
STAMP=$VENV/.maebench-installed
HASH=$(cat constraints.txt pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  echo "setup: .venv is up to date"; exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
$PIP install -q -c constraints.txt "setuptools<70" wheel ninja psutil
echo "setup: installing torch + torchvision (pinned; several GB the first time)"
$PIP install -q -c constraints.txt torch torchvision

TORCH_VER=$($VENV/bin/python -c 'import torch; print(torch.__version__)')
PYTAG=$($VENV/bin/python -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
WHEELS=${MAEBENCH_WHEEL_CACHE:-$HOME/.cache/maebench/wheels}/mmcv-2.1.0-torch$TORCH_VER-$PYTAG
if ! $VENV/bin/python -c 'import mmcv.ops' 2>/dev/null; then
  if ! ls "$WHEELS"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    echo "setup: building mmcv 2.1.0 with ops against torch $TORCH_VER (9-25 minutes on 2 cores)"
    mkdir -p "$WHEELS"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} $PIP wheel -q --no-build-isolation --no-deps \
      --no-cache-dir -c constraints.txt -w "$WHEELS" mmcv==2.1.0
  fi
  $PIP install -q --force-reinstall --no-deps "$WHEELS"/mmcv-2.1.0-*.whl
fi
echo "setup: installing maebench and the rest of the stack"
$PIP install -q -c constraints.txt -e ".[dev]"
$VENV/bin/python -c 'import mmcv.ops, mmdet, mmseg, torchvision.ops' \
  || { echo "setup: the stack does not import; run .venv/bin/maebench doctor"; exit 1; }
echo "$HASH" > "$STAMP"
echo "setup: done ($VENV)"
