"""Tiny segmentation runs on the demo world: a 64-d, 4-block ViT on 64 px crops, one CPU thread."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import TINY

CONFIG = str(Path(__file__).resolve().parents[2] / "segmentation" / "configs" / "upernet_mae_vit_demo.py")
# The demo config at test scale: tiny ViT, 64 px crops (4x4 patch grid), slide 64 / 43 (the 512 / 341 ratio).
TINY_OVERRIDES = [
    f"model.vit={dict(TINY)!r}",
    "model.out_indices=[0,1,2,3]",
    "model.aux_channels=32",
    "data.crop_size=64",
    "test.crop_size=64",
    "test.stride=43",
    "data.batch_size=4",
    "data.num_workers=0",
    "optim.precision='fp32'",
    "optim.lr=2e-3",
    "schedule.warmup_iters=5",
    "schedule.iters=30",
    "schedule.log_interval=5",
    "schedule.checkpoint_interval=30",
]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny ops on a shared 2-core machine run many times faster on one thread (no spinning OpenMP team)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def seg_cfg(root: str | Path, work_dir: str | Path, *overrides: str) -> dict:
    """The demo config with the tiny overrides (then `overrides`), as `maebench segment` would resolve it."""
    from mae_backbone.runtime.config import load_config

    cfg = load_config(CONFIG, [*TINY_OVERRIDES, *overrides])
    cfg.data.root, cfg.work_dir = str(root), str(work_dir)
    cfg.launcher, cfg.resume, cfg.eval_only, cfg.load_from = "none", None, False, None
    return cfg.to_dict()


@pytest.fixture(scope="session")
def ade_root(demo_world) -> Path:
    return Path(demo_world["ade"])
