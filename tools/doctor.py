"""`maebench doctor`: check the install and print a one-line fix for each problem found.

Compiled pieces are imported in child processes, so a crash or an ABI error in one of them is
reported as a finding instead of killing the doctor. Exit status 1 when something is broken.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mae_backbone.runtime.records import package_versions

SETUP = "run `bash scripts/setup.sh` from the repo (it pins the tested versions in constraints.txt)"
CPU_ONLY_MMCV = (
    "mmcv's ops were built for the CPU only, so detection fails on the first CUDA batch: on a GPU node "
    "with nvcc of torch's CUDA major version, `rm .venv/.maebench-installed && bash scripts/setup.sh`"
)
# (name, python snippet that must print OK)
PROBES = {
    "torch": "import torch; torch.randn(2, 2) @ torch.randn(2, 2); print('OK', torch.__version__)",
    "torchvision ops": "import torch, torchvision.ops as o; o.nms(torch.rand(3, 4) * 10, torch.rand(3), 0.5); "
    "print('OK')",
    "mmcv ops (CPU)": "from tools.doctor import mmcv_ops_match_torchvision as m; print('OK', m('cpu'))",
    "mmcv ops on CUDA": "from tools.doctor import mmcv_cuda_ops as m; print(m())",
    "mmdet": "import mmdet, mmdet.models; print('OK', mmdet.__version__)",
    "mmseg": "import mmseg, mmseg.models; print('OK', mmseg.__version__)",
    "pycocotools": "from pycocotools import mask; import numpy as np; "
    "mask.encode(np.asfortranarray(np.ones((4, 4), np.uint8))); print('OK')",
    "faster-coco-eval": "import faster_coco_eval; from faster_coco_eval import COCOeval_faster; print('OK')",
    "imagecorruptions": "import numpy as np; from imagecorruptions import corrupt; "
    "corrupt(np.zeros((64, 64, 3), np.uint8), corruption_name='fog', severity=1); print('OK')",
}


@dataclass
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False  # not applicable on this machine (a GPU check without a GPU)


def mmcv_ops_match_torchvision(device: str) -> str:
    """Run mmcv's nms and RoIAlign (what mmdet's heads call) on `device` and compare them with torchvision's.

    A build whose kernels exist but compute wrong results (a mismatched arch, a broken toolkit) is caught
    here, not in the middle of a detection run. Raises AssertionError on a mismatch."""
    import mmcv.ops
    import torch
    import torchvision.ops

    g = torch.Generator().manual_seed(0)
    corner = torch.rand(64, 2, generator=g) * 48
    boxes = torch.cat([corner, corner + 4 + torch.rand(64, 2, generator=g) * 24], 1).to(device)
    scores = torch.rand(64, generator=g).to(device)
    keep = mmcv.ops.nms(boxes, scores, 0.5)[1].long().cpu()
    want = torchvision.ops.nms(boxes, scores, 0.5).cpu()
    assert torch.equal(keep, want), f"mmcv nms on {device} kept boxes {keep.tolist()}, torchvision {want.tolist()}"
    feats = torch.rand(2, 8, 32, 32, generator=g).to(device)
    rois = torch.tensor([[0, 1.5, 2.0, 20.0, 24.5], [1, 4.0, 3.0, 30.0, 17.0], [0, 0.0, 0.0, 63.0, 63.0]]).to(device)
    got = mmcv.ops.RoIAlign((7, 7), 0.5, sampling_ratio=2, aligned=True)(feats, rois)
    ref = torchvision.ops.roi_align(feats, rois, (7, 7), 0.5, sampling_ratio=2, aligned=True)
    err = (got - ref).abs().max().item()
    assert err < 1e-4, f"mmcv RoIAlign on {device} differs from torchvision's by up to {err:.2e}"
    return f"nms and RoIAlign on {device} match torchvision's (RoIAlign max |diff| {err:.1e})"


def mmcv_cuda_ops() -> str:
    """The probe line for mmcv on CUDA: `SKIP ...` without a GPU, else `OK ...` after comparing its ops with
    torchvision's on the GPU. States mmcv's compiled CUDA version against torch's; raises (a FAIL) where mmcv
    was built for the CPU only or for another CUDA major version than torch's."""
    import mmcv.ops
    import torch

    built, torch_cuda = mmcv.ops.get_compiling_cuda_version(), torch.version.cuda
    build = (
        f"mmcv ops built with CUDA {built}" if built != "not available" else "mmcv ops built for the CPU only"
    ) + f", torch {torch.__version__} with CUDA {torch_cuda or 'none'}"
    if not torch.cuda.is_available():
        return f"SKIP no GPU ({build})"
    if built == "not available":
        raise RuntimeError(f"{build}: mmcv ops not compiled with GPU support")
    if built.split(".")[0] != (torch_cuda or "").split(".")[0]:
        raise RuntimeError(f"{build}: CUDA major versions differ, rebuild mmcv against this torch")
    return f"OK {mmcv_ops_match_torchvision('cuda')} on {torch.cuda.get_device_name(0)}; {build}"


def diagnose(name: str, output: str) -> str:
    """Map the known failure messages to their one-line fix."""
    if "undefined symbol" in output and "mmcv" in output:
        return "mmcv was built against another torch: delete ~/.cache/maebench/wheels and " + SETUP
    if "not compiled with GPU support" in output or "implementation for device cuda" in output:
        return CPU_ONLY_MMCV  # mmcv's device registry: "nms_impl: implementation for device cuda:0 not found."
    if "CUDA major versions differ" in output:
        return "mmcv was built with another CUDA than this torch's: `rm .venv/.maebench-installed`, then " + SETUP
    if "mmcv._ext" in output or "No module named 'mmcv.ops'" in output:
        return "mmcv has no compiled ops (mmcv-lite?): pip uninstall -y mmcv mmcv-lite, then " + SETUP
    if "torchvision::nms does not exist" in output:
        return "torchvision does not match this torch (the local CPU-only torch 2.13.0+cpu?): " + SETUP
    if (
        "compiled using NumPy 1.x" in output
        or "dtype size changed" in output
        or "numpy.core.multiarray failed" in output
    ):
        return "a compiled package and numpy disagree on ABI: pip install 'numpy<2' and reinstall that package"
    if "No module named" in output:
        return "missing package: " + SETUP
    return SETUP


def probe(name: str, code: str) -> Finding:
    try:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        return Finding(name, False, "timed out after 180 s", SETUP)
    out = (res.stdout + res.stderr).strip()
    last = out.splitlines()[-1] if out else ""
    if res.returncode == 0 and last.startswith("OK"):
        return Finding(name, True, last[2:].strip() or "works")
    if res.returncode == 0 and last.startswith("SKIP"):
        return Finding(name, True, "skipped: " + last[4:].strip(), skipped=True)
    last = next((line for line in reversed(out.splitlines()) if line.strip()), f"exit status {res.returncode}")
    return Finding(name, False, last[:160], diagnose(name, out))


def duplicate_installs(dists: list[metadata.Distribution] | None = None) -> list[str]:
    """Packages with more than one metadata folder on sys.path (a broken uninstall or two site-packages).

    The `maebench.egg-info` that `pip install -e .` leaves in the checkout is not a second install: it is
    the editable one's build record, seen again whenever the checkout itself is on sys.path (`python -m`
    from the repo root). Counting it made every fresh install report a duplicate.
    """
    checkout = Path(__file__).resolve().parents[1]
    places: dict[str, set[Path]] = {}
    for dist in metadata.distributions() if dists is None else dists:
        name = (dist.metadata["Name"] or "").lower()
        # the metadata folder itself (no public accessor): two in one site-packages are a duplicate too
        folder = Path(str(getattr(dist, "_path", dist.locate_file("")))).resolve()
        if name and folder.parent != checkout:
            places.setdefault(name, set()).add(folder)
    return sorted(n for n, found in places.items() if len(found) > 1)


def static_checks() -> list[Finding]:
    out = []
    import torch

    tv = torch.__version__
    major_minor = tuple(int(x) for x in tv.split("+")[0].split(".")[:2])
    out.append(
        Finding(
            "torch < 2.14 (mmcv 2.1.0 builds with C++17)",
            major_minor < (2, 14),
            tv,
            "" if major_minor < (2, 14) else "pin torch<2.14: " + SETUP,
        )
    )
    bad_cpu = tv.startswith("2.13.0") and tv.endswith("+cpu")
    out.append(
        Finding(
            "not the local CPU-only torch 2.13.0+cpu",
            not bad_cpu,
            tv,
            "that wheel breaks torchvision's compiled ops: " + SETUP if bad_cpu else "",
        )
    )
    dists = list(metadata.distributions())  # one scan of sys.path for both checks
    dupes = duplicate_installs(dists)
    out.append(
        Finding(
            "no duplicate installs",
            not dupes,
            ", ".join(dupes) or "none",
            f"uninstall the extra copies of {', '.join(dupes)} (pip uninstall twice, then reinstall)" if dupes else "",
        )
    )
    lite = any((d.metadata["Name"] or "").lower() == "mmcv-lite" for d in dists)
    out.append(
        Finding(
            "mmcv (full) rather than mmcv-lite",
            not lite,
            "mmcv-lite installed" if lite else "ok",
            "pip uninstall -y mmcv-lite, then " + SETUP if lite else "",
        )
    )
    return out


def environment_notes() -> list[str]:
    import torch

    notes = [f"python {sys.version.split()[0]}"]
    notes.append("GPU: " + (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU runs)"))
    from mae_backbone.runtime.cpu import cpu_has_fast_bf16

    notes.append(
        "CPU native bf16 (AMX / AVX-512 BF16): "
        + ("yes, precision=auto uses bf16 autocast" if cpu_has_fast_bf16() else "no, precision=auto is fp32")
    )
    notes.append(
        "torch.load default weights_only: yes (maebench allow-lists only argparse.Namespace and numpy "
        "arrays; its own resume checkpoints store tensors)"
    )
    return notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="skip the slower import probes (mmdet, mmseg)")


def main(args: argparse.Namespace) -> int:
    versions = package_versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    probes = {k: v for k, v in PROBES.items() if not (args.quick and k in ("mmdet", "mmseg"))}
    with ThreadPoolExecutor(max_workers=2) as pool:
        findings = list(pool.map(lambda kv: probe(*kv), probes.items()))
    findings = static_checks() + findings
    for f in findings:
        mark = "skip" if f.skipped else "ok" if f.ok else "FAIL"
        print(f"  [{mark}] {f.name}: {f.detail}" + (f"\n         fix: {f.fix}" if not f.ok else ""))
    for note in environment_notes():
        print(f"  [info] {note}")
    broken = [f for f in findings if not f.ok]
    print(f"doctor: {len(broken)} problem(s) found" if broken else "doctor: all checks passed")
    return 1 if broken else 0
