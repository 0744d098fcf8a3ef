"""Decides which mmcv ops setup.sh builds; prints "cpu" or "cu<CUDA> <arch;arch>" (the wheel-cache key).

CUDA ops are built when torch has CUDA and either GPUs are visible (their architectures) or
MAEBENCH_CUDA_ARCHS names them (a login node: "8.0;9.0"). A machine without a visible GPU is not taken
for a login node on its own, because a CPU machine with a CUDA toolkit installed looks the same and a
CUDA build of mmcv takes far longer. Without a matching nvcc the GPU build is refused (exit 2), unless
MAEBENCH_CPU_OPS_ONLY=1 asks for CPU ops on purpose.
"""

import os
import re
import subprocess
import sys

import torch

NO_NVCC = """setup: torch {torch} uses CUDA {cuda} and this machine has GPUs (or MAEBENCH_CUDA_ARCHS is set), but {why}.
mmcv's ops would then be built for the CPU only, and detection fails on the first CUDA batch (RoIAlign and NMS
have no CUDA kernel). Fix: load a CUDA toolkit whose major version is {major} (e.g. `module load cuda/{cuda}`,
or set CUDA_HOME), then run setup again. To build CPU ops on purpose (no detection on GPUs), rerun with
MAEBENCH_CPU_OPS_ONLY=1."""


def nvcc_version() -> str | None:
    """The release of the nvcc that torch's extension builder will use (its CUDA_HOME: $CUDA_HOME, else the nvcc
    on PATH, else /usr/local/cuda), or None."""
    from torch.utils.cpp_extension import CUDA_HOME

    nvcc = os.path.join(CUDA_HOME, "bin", "nvcc") if CUDA_HOME else None
    if not nvcc or not os.path.exists(nvcc):
        return None
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"release (\d+\.\d+)", out)
    return found.group(1) if found else None


ARCHS = re.compile(r"^\d+\.\d+(\+PTX)?(;\d+\.\d+(\+PTX)?)*$")  # TORCH_CUDA_ARCH_LIST's form: "8.0;9.0"


def gpu_archs() -> str | None:
    """The architectures to build for: MAEBENCH_CUDA_ARCHS, else the visible GPUs' (None: no GPU visible)."""
    if os.environ.get("MAEBENCH_CUDA_ARCHS"):
        archs = os.environ["MAEBENCH_CUDA_ARCHS"].strip()
        if not ARCHS.match(archs):
            sys.exit(
                f"setup: MAEBENCH_CUDA_ARCHS={archs!r} is not a list of compute capabilities; write them "
                "as '8.0;9.0' (A100 8.0, H100 9.0; `nvidia-smi --query-gpu=compute_cap --format=csv` says)"
            )
        return archs
    if not torch.cuda.is_available():
        return None
    caps = {torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())}
    return ";".join(f"{major}.{minor}" for major, minor in sorted(caps))


def main() -> int:
    cuda, archs = torch.version.cuda, gpu_archs()
    if cuda is None or archs is None:
        if cuda is not None:  # a CUDA torch on a machine without a visible GPU: a CPU box, or a login node
            print(
                "setup: no GPU visible, so mmcv gets CPU ops only; to build CUDA ops for GPU jobs from here, "
                "set MAEBENCH_CUDA_ARCHS (e.g. '8.0;9.0') and load a CUDA toolkit",
                file=sys.stderr,
            )
        print("cpu")
        return 0
    nvcc = nvcc_version()
    major = cuda.split(".")[0]
    why = (
        "no nvcc was found (neither on PATH nor under CUDA_HOME)"
        if nvcc is None
        else f"nvcc is CUDA {nvcc}"
        if nvcc.split(".")[0] != major
        else None
    )
    if why is None:
        print(f"cu{cuda} {archs}")
        return 0
    if os.environ.get("MAEBENCH_CPU_OPS_ONLY") == "1":
        print(f"setup: {why}; MAEBENCH_CPU_OPS_ONLY=1: building CPU ops only", file=sys.stderr)
        print("cpu")
        return 0
    print(NO_NVCC.format(torch=torch.__version__, cuda=cuda, why=why, major=major), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
