"""Shared pieces of the classification tests: a tiny backbone checkpoint and tiny demo-world configs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from classification.commands import DEFAULT_CONFIGS, load_protocol_config
from mae_backbone import create_mae
from mae_backbone.checkpoint import save_backbone
from mae_backbone.factory import architecture_of
from tests.conftest import TINY, TINY_DECODER

IMG = 64


def tiny_backbone(path: Path, img_size: int = IMG) -> Path:
    """An encoder checkpoint as `maebench pretrain` exports it (weights random: the mechanics are tested)."""
    torch.manual_seed(1)
    mae = create_mae("vit_mini_patch16", img_size=img_size, **TINY, **TINY_DECODER)
    meta = dict(arch_name="vit_mini_patch16", architecture=architecture_of(mae), img_size=img_size)
    return save_backbone(path, mae.encoder_state_dict(), meta)


def tiny_cfg(
    protocol: str, demo_world: dict, work_dir: Path, pretrained: str | Path = "", **sections: dict[str, Any]
) -> dict[str, Any]:
    """The shipped demo recipe of `protocol`, shrunk to a 4-block 64-d ViT at 64 px, one short epoch."""
    cfg = load_protocol_config(DEFAULT_CONFIGS[protocol], [], protocol).to_dict()
    cfg["model"].update(img_size=IMG, **TINY)
    cfg["data"].update(root=demo_world["imagenet"], batch_size=8, eval_batch_size=8, num_workers=0)
    cfg["optim"].update(precision="fp32")
    cfg["schedule"].update(epochs=1, warmup_epochs=0, checkpoint_interval=1, log_interval=1)
    if cfg.get("linprobe_config"):
        cfg["linprobe_config"] = str((Path(DEFAULT_CONFIGS[protocol]).parent / cfg["linprobe_config"]).resolve())
    cfg.update(work_dir=str(work_dir), pretrained=str(pretrained), launcher="none", resume=None, eval_only=False)
    for name, values in sections.items():
        if isinstance(values, dict):
            cfg[name].update(values)
        else:
            cfg[name] = values
    return copy.deepcopy(cfg)
