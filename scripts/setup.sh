#!/usr/bin/env bash
# Creates .venv in the repo and installs the pinned stack. Idempotent: a second run takes seconds.
# mmcv 2.1.0 has no wheel for our torch, so it is built from source once (CPU ops: 10 minutes on
# 2 cores) into a wheel cache keyed by torch version, Python and ops (CPU, or CUDA version + archs):
# pip's own cache would hand back a wheel built against another torch ("undefined symbol").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
PIP="$VENV/bin/pip --disable-pip-version-check"
STAMP=$VENV/.maebench-installed
# what decides mmcv's ops is part of the stamp: the same .venv used on a GPU node after a login node rebuilds
GPUS=$(nvidia-smi -L 2>/dev/null | wc -l || true)
HASH=$( (cat constraints.txt pyproject.toml scripts/setup.sh scripts/mmcv_ops.py
        echo "gpus=$GPUS archs=${MAEBENCH_CUDA_ARCHS:-} cpu_only=${MAEBENCH_CPU_OPS_ONLY:-}") | sha256sum | cut -c1-16)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  echo "setup: .venv is up to date"; exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
$PIP install -q -c constraints.txt "setuptools<70" wheel ninja psutil
echo "setup: installing torch + torchvision (pinned; several GB the first time)"
$PIP install -q -c constraints.txt torch torchvision

TORCH_VER=$($VENV/bin/python -c 'import torch; print(torch.__version__)')
PYTAG=$($VENV/bin/python -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
# Which ops to build (scripts/mmcv_ops.py prints "cpu" or "cu<torch's CUDA> <archs>", the cache key):
# CUDA ops for the visible GPUs when torch has CUDA and a matching nvcc is found; on a machine without a
# visible GPU only when MAEBENCH_CUDA_ARCHS names the architectures (a login node: "8.0;9.0"). No default
# list: a login node cannot be told from a CPU box that merely has a CUDA toolkit (the CI machines here
# have the registry's CUDA torch and nvcc 13.0 but no GPU), and there a CUDA build would take hours on
# 2 cores. GPUs but no matching nvcc: refused with the fix, unless MAEBENCH_CPU_OPS_ONLY=1.
OPS=$($VENV/bin/python scripts/mmcv_ops.py) || exit 2
OPS_TAG=${OPS// /-}; OPS_TAG=${OPS_TAG//;/_}
WHEELS=${MAEBENCH_WHEEL_CACHE:-$HOME/.cache/maebench/wheels}/mmcv-2.1.0-torch$TORCH_VER-$PYTAG-$OPS_TAG
if ! $VENV/bin/python -c 'import mmcv.ops' 2>/dev/null || [ "$(cat "$VENV/.mmcv-ops" 2>/dev/null)" != "$OPS" ]; then
  if ! ls "$WHEELS"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    mkdir -p "$WHEELS"
    # -g0: Python's own CFLAGS carry -g, which doubled the compile time and made _ext 83 MB of debug info
    # (distutils appends $CFLAGS after them, so the last -g level wins).
    if [ "$OPS" = cpu ]; then
      echo "setup: building mmcv 2.1.0 with CPU ops against torch $TORCH_VER (about 10 minutes on 2 cores)"
      CUDA_ENV=(FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=)
    else
      echo "setup: building mmcv 2.1.0 with CUDA ops ($OPS) against torch $TORCH_VER, $(nproc) jobs"
      CUDA_ENV=(FORCE_CUDA=1 "TORCH_CUDA_ARCH_LIST=${OPS#* }")
    fi
    env "${CUDA_ENV[@]}" CFLAGS="${CFLAGS:-} -g0" MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      $PIP wheel -q --no-build-isolation --no-deps --no-cache-dir -c constraints.txt -w "$WHEELS" mmcv==2.1.0
  fi
  $PIP install -q --force-reinstall --no-deps "$WHEELS"/mmcv-2.1.0-*.whl
fi
echo "$OPS" > "$VENV/.mmcv-ops"
echo "setup: installing maebench and the rest of the stack"
$PIP install -q -c constraints.txt -e ".[dev]"
$VENV/bin/python -c 'import mmcv.ops, mmdet, mmseg, torchvision.ops' \
  || { echo "setup: the stack does not import; run .venv/bin/maebench doctor"; exit 1; }
echo "$HASH" > "$STAMP"
echo "setup: done ($VENV)"
