"""`maebench doctor` on the installed stack: every probe passes here (the setup script's install), mmcv's ops are
compared with torchvision's on every device torch can use (the CUDA check says it is skipped on a machine
without a GPU), and the duplicate-install check tells a real second copy from the editable install's own
build record."""

from __future__ import annotations

from pathlib import Path

import torch

from tools.cli import main as cli
from tools.doctor import CPU_ONLY_MMCV, diagnose, duplicate_installs, mmcv_cuda_ops, mmcv_ops_match_torchvision

REPO = Path(__file__).resolve().parents[2]


def test_doctor_passes_on_the_setup_scripts_install_run_from_the_checkout(monkeypatch, capsys):
    # as `python -m tools.cli doctor` from the repo root: the checkout, with the maebench.egg-info that
    # `pip install -e .` writes there, is on sys.path (a fresh install once reported it as a duplicate)
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.chdir(REPO)
    assert cli(["doctor", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "[ok] no duplicate installs: none" in out and "[FAIL]" not in out
    assert "[ok] mmcv ops (CPU): nms and RoIAlign on cpu match torchvision's" in out
    if not torch.cuda.is_available():
        assert "[skip] mmcv ops on CUDA: skipped: no GPU (mmcv ops built " in out
    assert "doctor: all checks passed" in out


def test_mmcv_ops_agree_with_torchvision_on_this_machines_devices():
    assert "match torchvision's" in mmcv_ops_match_torchvision("cpu")
    line = mmcv_cuda_ops()  # on a GPU machine this runs the ops on the GPU (tests/gpu does so too)
    assert line.startswith("OK" if torch.cuda.is_available() else "SKIP no GPU")
    assert f"with CUDA {torch.version.cuda or 'none'}" in line  # mmcv's build against torch's CUDA, stated


def test_a_cpu_only_mmcv_on_a_gpu_is_told_with_its_fix():
    # mmcv's device registry says this when a CUDA tensor reaches a CPU-only build (pytorch_device_registry.hpp)
    registry = "RuntimeError: nms_impl: implementation for device cuda:0 not found.\n"
    ours = (
        "RuntimeError: mmcv ops built for the CPU only, torch 2.11.0 with CUDA 13.0: "
        "mmcv ops not compiled with GPU support"
    )
    for output in (registry, ours):
        assert diagnose("mmcv ops on CUDA", output) == CPU_ONLY_MMCV
    assert "rm .venv/.maebench-installed && bash scripts/setup.sh" in CPU_ONLY_MMCV


def test_a_second_copy_of_a_package_is_reported(monkeypatch, tmp_path):
    copy = tmp_path / "maebench-0.0.1.dist-info"  # what a broken uninstall leaves behind
    copy.mkdir()
    (copy / "METADATA").write_text("Metadata-Version: 2.1\nName: maebench\nVersion: 0.0.1\n")
    assert "maebench" not in duplicate_installs()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert duplicate_installs() == ["maebench"]
