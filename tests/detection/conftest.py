"""Tiny detection configs on the demo world: a 64-d, 4-block ViT at 64 px, narrow heads, a handful of steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TINY

DEMO_CONFIG = str(Path(__file__).resolve().parents[2] / "detection" / "configs" / "mask_rcnn_mae_vit_demo.py")
TINY_OVERRIDES = [
    f"model.vit={TINY!r}",
    "model.out_indices=None",
    "model.window_size=2",
    "model.neck_channels=32",
    "model.roi_fc_channels=64",
    "model.rpn_proposals=50",
    "model.rcnn_rois_per_image=32",
    "data.image_size=64",
    "data.batch_size=2",
    "data.num_workers=0",
    "schedule.iters=4",
    "schedule.warmup_iters=0",
    "schedule.log_interval=1",
    "schedule.checkpoint_interval=4",
]


@pytest.fixture(scope="module", autouse=True)
def _quiet_single_thread():
    """One intra-op thread: on a shared 2-core machine, OpenMP threads spinning against other
    processes made a tiny Mask R-CNN step 10-60x slower than one thread (measured). Module scope, so that the
    module-scoped training fixtures run under it too."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_cfg(root: str | Path, work_dir: str | Path, *overrides: str) -> dict[str, Any]:
    """The demo config at test size, as `maebench detect` resolves it (run() input)."""
    from mae_backbone.runtime.config import load_config

    cfg = load_config(DEMO_CONFIG, [*TINY_OVERRIDES, *overrides]).to_dict()
    cfg["data"]["root"] = str(root)
    cfg.update(work_dir=str(work_dir), launcher="none", resume=None, eval_only=False)
    return cfg
