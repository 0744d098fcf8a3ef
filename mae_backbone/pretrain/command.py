"""`maebench pretrain`: MAE pre-training from a config, exporting the encoder as a backbone checkpoint."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..runtime.cli import add_common_args, apply_common_flags, config_and_overrides, submit_or_run
from ..runtime.config import check_known_keys, load_config

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "pretrain"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_args(parser, default_config=str(CONFIG_DIR / "mae_demo.py"))
    parser.add_argument("--data", default=None, help="folder of images (flat or ImageFolder); sets data.root")


def build_cfg(args: argparse.Namespace) -> dict:
    from .run import CONFIG_KEYS

    args.config, args.overrides = config_and_overrides(args, str(CONFIG_DIR / "mae_demo.py"))
    cfg = load_config(args.config, args.overrides)
    check_known_keys(cfg, CONFIG_KEYS, args.config)
    apply_common_flags(cfg, args, args.config, "pretrain", data_hint="IMAGE_FOLDER", has_eval_only=False)
    return cfg.to_dict()


def main(args: argparse.Namespace) -> int:
    cfg = build_cfg(args)
    if args.eval_only:
        raise ConfigError("pretrain has no evaluation; use `maebench visualize` on the exported mae_full checkpoint")
    from .run import run

    return submit_or_run(args, main, cfg, run)
