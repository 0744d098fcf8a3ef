"""`maebench segment`: ADE20K UperNet transfer of a (MAE pre-trained) ViT backbone.

    maebench segment --data DEMO/ade/ADEChallengeData2016 --pretrained work_dirs/pretrain/backbone.safetensors
    maebench segment segmentation/configs/upernet_mae_vit_base_512_160k.py --data data/ade/ADEChallengeData2016 \
        --pretrained mae_pretrain_vit_base.pth --launcher pytorch
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mae_backbone.runtime.cli import add_common_args, apply_common_flags, config_and_overrides, submit_or_run
from mae_backbone.runtime.config import check_known_keys, load_config

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = str(CONFIG_DIR / "upernet_mae_vit_demo.py")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_args(parser, default_config=DEFAULT_CONFIG)
    parser.add_argument("--data", default=None, help="the ADEChallengeData2016 folder; sets data.root")
    parser.add_argument("--pretrained", default=None,
                        help="backbone checkpoint (maebench .safetensors or official MAE .pth); sets model.pretrained."
                             " Without it the ViT starts from scratch")


def build_cfg(args: argparse.Namespace) -> dict[str, Any]:
    from .run import CONFIG_KEYS

    config, overrides = config_and_overrides(args, DEFAULT_CONFIG)
    cfg = load_config(config, overrides)
    check_known_keys(cfg, CONFIG_KEYS, config)
    apply_common_flags(cfg, args, config, "segment", data_hint="ADEChallengeData2016_FOLDER")
    if args.pretrained:
        cfg.model.pretrained = args.pretrained
    if args.eval_only:
        from mae_backbone.runtime.workdir import resolve_resume

        cfg.load_from = resolve_resume(args.resume or "auto", cfg.work_dir)
    return cfg.to_dict()


def main(args: argparse.Namespace) -> int:
    cfg = build_cfg(args)
    from .run import run

    return submit_or_run(args, main, cfg, run, hide=("per_class_IoU",))
