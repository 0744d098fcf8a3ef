"""tests/gpu: the CUDA-only code paths (pytest marker `gpu`). Skipped on a machine without a CUDA GPU;
`scripts/gpu_check.sh` runs them on one (`pytest -m gpu tests/gpu`)."""

from __future__ import annotations

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (scripts/gpu_check.sh runs these on one)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
