"""mmcv's compiled ops on the GPU: built with CUDA (not a CPU-only build) and agreeing with torchvision's, the
check `maebench doctor` runs."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu


def test_mmcv_ops_run_on_the_gpu_and_match_torchvision(record_property):
    from tools.doctor import mmcv_cuda_ops

    line = mmcv_cuda_ops()
    record_property("doctor_line", line)
    assert line.startswith("OK nms and RoIAlign on cuda match torchvision's")
