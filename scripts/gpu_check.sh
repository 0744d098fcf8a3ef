#!/usr/bin/env bash
# The GPU check (issue 24), one command for a bare GPU machine without network whose Python already has torch
# (e.g. torch 2.11 + CUDA 13, Python 3.12, nvcc on the PATH):
#   - the other packages from carried wheels and mmcv's sdist (.gpu_wheels/), installed into a temp target;
#     mmcv's CUDA ops built there for this GPU's architecture only, with all cores (-g0, in the background);
#   - benchmarks/pretrain_speed.py: ViT-B/16 batch 128 and ViT-L/16 batch 64, ours bf16 + fused AdamW eager and
#     compiled against the official-style step (fp16 autocast, loss scaler, plain AdamW); MFU and peak memory;
#   - every protocol on the tiny demo world, a few iterations each, in bf16 on the GPU: pretrain, finetune,
#     linprobe, partial, detect (benchmarking and vitdet), segment, robustness; pretrain and detect/benchmarking
#     run as one-GPU DDP (torchrun, world size 1, NCCL), where BN must stay plain BN; each metrics.json is checked;
#   - maebench doctor (mmcv's nms and RoIAlign on CUDA against torchvision's) and tests/gpu (bf16 vs fp32 loss
#     of a pre-training step, fused AdamW, CUDA RNG state in checkpoints, NCCL DDP).
# Results: 6 small JSON files in OUT_DIR (scripts/gpu_check_json.py says which), and logs.tar.gz.
#
#   bash scripts/gpu_check.sh fetch              here, with network: wheels, mmcv's sdist and the tiny demo world
#                                                into .gpu_wheels/ (git-ignored, ~17 MB, travels with the tree)
#   bash scripts/gpu_check.sh run [OUT_DIR]      on the GPU machine (OUT_DIR default: $OUT, else gpu_check_out)
#   bash scripts/gpu_check.sh dry-run [OUT_DIR]  on a CPU, end to end with this .venv: CUDA steps skipped, tiny sizes
#   GPU_CHECK_STEPS="dense bench_l" bash scripts/gpu_check.sh run   rerun some steps only (of: install build world
#                                                bench (= bench_b bench_l) classify doctor tests dense); on the same
#                                                machine the install, the mmcv build and the world are reused
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MODE=${1:-run}
WHEELS=${GPU_CHECK_WHEELS:-$REPO/.gpu_wheels}
TMPD=${GPU_CHECK_TMP:-/tmp/maebench_gpu_check}
STEPS=" ${GPU_CHECK_STEPS:-install build world bench classify doctor tests dense} "
T0=$SECONDS
say() { echo "== gpu_check [$((SECONDS - T0)) s] $*"; }
want() { [[ "$STEPS" == *" $1 "* ]]; }
# Packages our pyproject needs that the GPU image lacks (its torch, torchvision, numpy, scipy, opencv,
# scikit-image, matplotlib, safetensors, tensorboard ... are used as they are); versions as in constraints.txt.
PACKAGES="mmengine==0.10.7 mmdet==3.3.0 mmsegmentation==1.2.2 timm==1.0.31 pycocotools faster-coco-eval
  imagecorruptions ftfy wcwidth submitit future terminaltables shapely addict termcolor yapf platformdirs prettytable
  setuptools==69.5.1"
PLATFORMS="--python-version 3.12 --implementation cp --only-binary=:all: --platform manylinux_2_28_x86_64
  --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
  --platform manylinux2014_x86_64"

if [ "$MODE" = fetch ]; then
  mkdir -p "$WHEELS"
  python3 -m pip download -q --no-deps $PLATFORMS -d "$WHEELS" $PACKAGES || exit 1
  # the sdist: its metadata step imports torch, so pip runs from the .venv
  .venv/bin/pip download -q --no-deps --no-binary=:all: --no-build-isolation -d "$WHEELS" mmcv==2.1.0 || exit 1
  # imagecorruptions 1.1.2 uses np.float_, gone in numpy 2, so the GPU image's numpy cannot write the
  # world's ImageNet-C; the same seed writes the same bytes here
  rm -rf "$TMPD/fetch_world" && .venv/bin/python -m tools.cli demo-data --size tiny --seed 0 \
    --out "$TMPD/fetch_world/demo_world_tiny" >/dev/null || exit 1
  tar czf "$WHEELS/demo_world_tiny.tar.gz" -C "$TMPD/fetch_world" demo_world_tiny
  du -sh "$WHEELS"; exit 0
fi
[ "$MODE" = run ] || [ "$MODE" = dry-run ] || { echo "usage: $0 fetch | run [OUT_DIR] | dry-run [OUT_DIR]"; exit 2; }
DRY=$([ "$MODE" = dry-run ] && echo 1 || echo 0)
OUTD=${2:-${OUT:-$REPO/gpu_check_out}}
if [ "$DRY" = 1 ]; then PY=${PYTHON:-$REPO/.venv/bin/python}; else PY=${PYTHON:-python3}; fi
SITE=$TMPD/site LOGS=$TMPD/logs WORK=$TMPD/work WORLD=$TMPD/world/demo_world_tiny
mkdir -p "$OUTD" "$LOGS" "$WORK"
exec 9>"$TMPD/.lock"  # two checks in one temp folder would delete each other's world and work dirs
command -v flock >/dev/null && ! flock -n 9 && { echo "gpu_check: another check is running in $TMPD"; exit 1; }
J="$PY $REPO/scripts/gpu_check_json.py"
NCPU=$(nproc)
# the foreground (GPU work, launching kernels) keeps cores 0-3; the mmcv build gets the rest
FG=() BG=()
if command -v taskset >/dev/null && [ "$NCPU" -ge 8 ]; then FG=(taskset -c 0-3) BG=(taskset -c "4-$((NCPU - 1))"); fi
JOBS=$([ ${#BG[@]} -gt 0 ] && echo $((NCPU - 4)) || echo "$NCPU")
if [ "$DRY" = 1 ]; then PREC=fp32; else PREC=bf16; fi
say "$MODE: python $PY, output $OUTD, temp $TMPD, steps:$STEPS"
# inductor's cache in the temp folder: a shared /tmp/torchinductor_<user> once handed a half-written kernel
# library ("file too short") to a concurrent compile on a shared machine
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=$TMPD/inductor
[ "$DRY" = 1 ] && export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
$J machine "$OUTD/install.json" || { echo "gpu_check: $PY cannot import torch"; exit 1; }

if want install; then
  say "install: wheels from $WHEELS into $SITE"
  [ -f "$WHEELS/mmcv-2.1.0.tar.gz" ] || { echo "gpu_check: no $WHEELS/mmcv-2.1.0.tar.gz: run '$0 fetch' first"; exit 1; }
  # setuptools 69 too: mmcv's setup.py and mmengine import pkg_resources, which setuptools 81+ no longer ships
  WHL=$(ls "$WHEELS"/*.whl)
  # a dry run cannot import cp312 wheels here: it checks that the set installs for Python 3.12, and runs on .venv
  TARGET_ARGS=$([ "$DRY" = 1 ] && echo "$PLATFORMS" || echo "")
  rm -rf "$SITE"
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir $TARGET_ARGS --target "$SITE" $WHL \
    > "$LOGS/install.log" 2>&1
  rc=$?
  $J put "$OUTD/install.json" wheels "{\"passed\": $([ $rc = 0 ] && echo true || echo false), \"exit_status\": $rc,
    \"count\": $(echo "$WHL" | wc -l), \"megabytes\": $(du -sm "$WHEELS" | cut -f1), \"target\": \"$SITE\"}"
  [ $rc = 0 ] || { tail -20 "$LOGS/install.log"; exit 1; }
fi
[ "$DRY" = 0 ] && export PYTHONPATH=$SITE:$REPO || export PYTHONPATH=$REPO

BUILD_PID=
if want build && [ "$DRY" = 0 ]; then
  if ls "$SITE"/mmcv/_ext*.so >/dev/null 2>&1; then
    say "build: reusing the mmcv already built in $SITE"
  else
    ARCH=$($PY -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability(0))')
    # without ninja on the PATH torch's extension builder compiles one file at a time (MAX_JOBS ignored)
    command -v ninja >/dev/null || PATH=$($PY -c 'import ninja; print(ninja.BIN_DIR)'):$PATH
    # torch's CUDA headers include cuSPARSE/cuBLAS/cuSOLVER headers that a bare toolkit may lack (the CPU
    # machines here: nvcc 13.0 without cusparse.h); the nvidia-* wheels next to torch carry them
    INC=$($PY -c 'import glob, os, torch; from torch.utils.cpp_extension import CUDA_HOME as h
if not (h and os.path.exists(os.path.join(h, "include", "cusparse.h"))):
    site = os.path.dirname(os.path.dirname(torch.__file__))
    print(":".join(d for d in sorted(glob.glob(os.path.join(site, "nvidia", "*", "include")))
                   if any(os.path.exists(os.path.join(d, f)) for f in ("cusparse.h", "cublas_v2.h", "cusolverDn.h"))))')
    [ -n "$INC" ] && export CPATH=$INC${CPATH:+:$CPATH} && say "build: headers from the nvidia wheels: $INC"
    say "build: mmcv 2.1.0 CUDA ops for sm_${ARCH/./} with $JOBS jobs, in the background (log $LOGS/mmcv_build.log)"
    rm -rf "$TMPD/mmcv_wheel"
    BUILD_T0=$SECONDS
    (env FORCE_CUDA=1 MMCV_WITH_OPS=1 TORCH_CUDA_ARCH_LIST="$ARCH" \
      MAX_JOBS=$JOBS CFLAGS="-g0" "${BG[@]}" $PY -m pip wheel -q --no-deps --no-build-isolation --no-index \
      --no-cache-dir -w "$TMPD/mmcv_wheel" "$WHEELS/mmcv-2.1.0.tar.gz") > "$LOGS/mmcv_build.log" 2>&1 &
    BUILD_PID=$!
  fi
fi
[ "$DRY" = 1 ] && want build && $J put "$OUTD/install.json" mmcv_build \
  '{"skipped": true, "why": "dry run: no GPU; the .venv mmcv (CPU ops) is used"}'

if want world; then
  say "world: the tiny demo world"
  rm -rf "$TMPD/world" "$LOGS/world.log" && mkdir -p "$TMPD/world"
  # numpy 2 (the GPU image's): imagecorruptions 1.1.2 cannot write ImageNet-C (np.float_), so the carried copy
  # (GPU_CHECK_WORLD=carried takes it anyway)
  if [ "${GPU_CHECK_WORLD:-}" != carried ] && $PY -c 'import numpy, sys; sys.exit(int(numpy.__version__.split(".")[0]) >= 2)' 2>/dev/null \
      && timeout 120 "${FG[@]}" $PY -m tools.cli demo-data --size tiny --seed 0 --out "$WORLD" > "$LOGS/world.log" 2>&1; then
    $J put "$OUTD/install.json" world '"generated here"'
  elif [ -f "$WHEELS/demo_world_tiny.tar.gz" ]; then
    why=$(tail -1 "$LOGS/world.log" 2>/dev/null | tr -d '"\\' | cut -c1-200); why=${why:-numpy >= 2 here, or GPU_CHECK_WORLD=carried}
    say "world: not generated here ($why); using the carried copy"
    rm -rf "$TMPD/world" && mkdir -p "$TMPD/world" && tar xzf "$WHEELS/demo_world_tiny.tar.gz" -C "$TMPD/world"
    $J put "$OUTD/install.json" world "\"carried (not generated here: $why)\""
  else
    tail -20 "$LOGS/world.log"; exit 1
  fi
fi

bench() {  # ARCH BATCH FILE: benchmarks/pretrain_speed.py, ours vs the official-style step (dry run: vit_mini)
  if [ "$DRY" = 1 ]; then
    set -- vit_mini_patch16 4 "$3" --img-size 64 --steps 1 --warmup 1 --no-compile --device cpu
  else
    set -- "$1" "$2" "$3" --steps 10 --warmup 3
  fi
  local arch=$1 batch=$2 file=$3; shift 3
  say "bench: $arch batch $batch -> $OUTD/$file"
  timeout 400 "${FG[@]}" $PY benchmarks/pretrain_speed.py --arch "$arch" --batch "$batch" "$@" --no-design \
    --out "$OUTD/$file" 2>&1 | tee -a "$LOGS/bench.log" | grep -v -i warn
}
# ViT-B while mmcv builds on the other cores (a GPU-bound step; both sides of each ratio alike), ViT-L last
{ want bench || want bench_b; } && bench vit_base_patch16 128 pretrain_speed_vit_b.json

M=("${FG[@]}" $PY -m tools.cli)
TR=("${FG[@]}" $PY -m torch.distributed.run --standalone --nproc-per-node 1 -m tools.cli)
ARCHO="arch='vit_mini_patch16'"
CLS=("$ARCHO" model.img_size=64 data.batch_size=8 data.eval_batch_size=16 data.num_workers=0 schedule.epochs=1
     schedule.warmup_epochs=0 schedule.checkpoint_interval=1 schedule.log_interval=1 "optim.precision='$PREC'")
DET=("$ARCHO" data.image_size=64 data.batch_size=2 data.num_workers=0 model.window_size=4 "optim.precision='$PREC'"
     schedule.iters=2 schedule.warmup_iters=1 schedule.checkpoint_interval=2 schedule.log_interval=1)
SEG=("$ARCHO" data.crop_size=64 test.crop_size=64 test.stride=43 data.batch_size=4 data.num_workers=0
     "optim.precision='$PREC'" schedule.warmup_iters=2 schedule.iters=4 schedule.log_interval=1
     schedule.checkpoint_interval=4)
CKPT=$WORK/pretrain/backbone.safetensors
PRECL="precision='$PREC'"  # the resolved config in the log: the run took the precision asked for
proto() {  # NAME LOG_REGEX COMMAND...: run with --work-dir, then check its metrics.json (and the regex in its log)
  local name=$1 grep=$2 t=$SECONDS; shift 2
  say "protocol $name"
  rm -rf "${WORK:?}/$name"
  timeout "${GPU_CHECK_TIMEOUT:-$([ "$DRY" = 1 ] && echo 300 || echo 150)}" "$@" --work-dir "$WORK/$name" > "$LOGS/$name.log" 2>&1
  $J protocol "$OUTD/protocols.json" "$name" "$WORK/$name" "$LOGS/$name.log" $? $((SECONDS - t)) "$grep"
}
if want classify; then  # the protocols that need no mmcv ops run while it builds
  proto pretrain "Distributed training: True && $PRECL" "${TR[@]}" pretrain model.img_size=64 data.batch_size=8 data.num_workers=0 \
    schedule.epochs=1 schedule.warmup_epochs=1 schedule.checkpoint_interval=1 schedule.log_interval=1 \
    "optim.precision='$PREC'" --data "$WORLD/pretrain" --seed 0 --launcher pytorch
  for task in finetune linprobe partial; do
    proto $task "$PRECL" "${M[@]}" $task "${CLS[@]}" --data "$WORLD/imagenet" --pretrained "$CKPT" --seed 0
  done
  proto robustness "" "${M[@]}" robustness "$WORK/finetune/classifier.safetensors" --data "$WORLD/robustness" \
    --batch-size 16 --num-workers 0 --img-size 128
fi

if [ -n "$BUILD_PID" ]; then
  say "build: waiting for mmcv (pid $BUILD_PID)"
  wait "$BUILD_PID"; rc=$?
  [ $rc = 0 ] && $PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" --upgrade \
    "$TMPD"/mmcv_wheel/mmcv-*.whl >> "$LOGS/mmcv_build.log" 2>&1; rc=$((rc + $?))
  SO=$(ls "$SITE"/mmcv/_ext*.so 2>/dev/null | head -1)
  $J put "$OUTD/install.json" mmcv_build "{\"passed\": $([ $rc = 0 ] && echo true || echo false), \"arch\": \"$ARCH\",
    \"jobs\": $JOBS, \"seconds\": $((SECONDS - BUILD_T0)), \"ext_megabytes\": $([ -n "$SO" ] && du -m "$SO" | cut -f1 || echo null),
    \"log_tail\": $(tail -8 "$LOGS/mmcv_build.log" | $PY -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}"
  say "build: mmcv finished with status $rc after $((SECONDS - BUILD_T0)) s"
fi

if want doctor; then
  say "doctor"
  "${M[@]}" doctor $([ "$DRY" = 1 ] && echo --quick) > "$LOGS/doctor.log" 2>&1; rc=$?
  cat "$LOGS/doctor.log"
  $J doctor "$OUTD/install.json" "$LOGS/doctor.log" $rc $([ "$DRY" = 0 ] && echo cuda)
fi

if want tests; then
  say "tests/gpu (pytest -m gpu)"
  "${FG[@]}" $PY -m pytest -q -m gpu tests/gpu -p no:cacheprovider --junitxml="$TMPD/tests.xml" 2>&1 | tail -5
  $J junit "$OUTD/tests.json" "$TMPD/tests.xml"
fi

if want dense; then
  # benchmarking (MIMDet's FPN and heads have BN) as one-GPU DDP: world size 1 must leave its BN plain
  proto detect_benchmarking "SyncBN off: single process && Distributed training: True && $PRECL" "${TR[@]}" detect \
    "${DET[@]}" "protocol='benchmarking'" --data "$WORLD/coco" --pretrained "$CKPT" --seed 0 --launcher pytorch
  proto detect_vitdet "$PRECL" "${M[@]}" detect "${DET[@]}" "protocol='vitdet'" --data "$WORLD/coco" \
    --pretrained "$CKPT" --seed 0
  proto segment "$PRECL" "${M[@]}" segment "${SEG[@]}" --data "$WORLD/ade/ADEChallengeData2016" --pretrained "$CKPT" --seed 0
fi

{ want bench || want bench_l; } && bench vit_large_patch16 64 pretrain_speed_vit_l.json

say "summary ($OUTD)"
$J summary "$OUTD"; rc=$?
tar czf "$OUTD/logs.tar.gz" -C "$TMPD" logs  # every step's log, for whatever failed
exit $rc
