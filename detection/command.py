"""`maebench detect`: COCO Mask R-CNN transfer of a (MAE pre-trained) ViT backbone.

    maebench detect --data DEMO/coco --pretrained work_dirs/pretrain/backbone.safetensors
    maebench detect detection/configs/mask_rcnn_mae_vit_base_1024_100ep.py --data data/coco \\
        --pretrained mae_pretrain_vit_base.pth --launcher pytorch
    maebench detect --data DEMO/coco --eval-only --resume work_dirs/detect_x/iter_300.pth --evaluator reference
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mae_backbone.runtime.cli import add_common_args, apply_common_flags, config_and_overrides, submit_or_run
from mae_backbone.runtime.config import check_known_keys, load_config

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = str(CONFIG_DIR / "mask_rcnn_mae_vit_demo.py")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_args(parser, default_config=DEFAULT_CONFIG)
    parser.add_argument("--data", default=None,
                        help="the COCO folder (annotations/instances_<split>.json + <split>/ images); sets data.root")
    parser.add_argument("--pretrained", default=None,
                        help="backbone checkpoint (maebench .safetensors or official MAE .pth); sets model.pretrained."
                             " Without it the ViT starts from scratch")
    parser.add_argument("--protocol", choices=["benchmarking", "vitdet"], default=None,
                        help="benchmarking: MAE paper A.3, four block groups -> pyramid -> FPN (default); "
                             "vitdet: simple pyramid from the last block. Sets protocol")
    parser.add_argument("--evaluator", choices=["fast", "reference"], default=None,
                        help="COCO evaluation with faster-coco-eval (fast, default; identical stats) or "
                             "pycocotools (reference); sets test.evaluator")
    parser.add_argument("--skip-bad", action="store_true",
                        help="drop bad annotations and images whose file is missing instead of stopping; "
                             "the counts are printed and stored in metrics.json")


def build_cfg(args: argparse.Namespace) -> dict[str, Any]:
    from .run import CONFIG_KEYS

    config, overrides = config_and_overrides(args, DEFAULT_CONFIG)
    cfg = load_config(config, overrides)
    check_known_keys(cfg, CONFIG_KEYS, config)
    apply_common_flags(cfg, args, config, "detect", data_hint="COCO_FOLDER")
    for flag, key in ((args.pretrained, ("model", "pretrained")), (args.evaluator, ("test", "evaluator"))):
        if flag:
            cfg[key[0]][key[1]] = flag
    if args.protocol:
        cfg.protocol = args.protocol
    if args.skip_bad:
        cfg.data.skip_bad = True
    if args.eval_only:
        from mae_backbone.runtime.workdir import resolve_resume

        cfg.load_from = resolve_resume(args.resume or "auto", cfg.work_dir)
    return cfg.to_dict()


def main(args: argparse.Namespace) -> int:
    cfg = build_cfg(args)
    from .run import run

    return submit_or_run(args, main, cfg, run)
