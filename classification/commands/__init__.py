"""Thin `maebench finetune | linprobe | partial | robustness` commands: parse flags, build the config, call run()."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mae_backbone.errors import ConfigError
from mae_backbone.runtime.cli import add_common_args, apply_common_flags, config_and_overrides, submit_or_run
from mae_backbone.runtime.config import check_known_keys, load_config

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
DEFAULT_CONFIGS = {p: str(CONFIG_DIR / f"{p}_demo.py") for p in ("finetune", "linprobe", "partial")}


def add_training_arguments(parser: argparse.ArgumentParser, protocol: str) -> None:
    add_common_args(parser, default_config=DEFAULT_CONFIGS[protocol])
    parser.add_argument("--data", default=None, help="dataset root (sets data.root); format from data.format")
    parser.add_argument("--pretrained", default=None,
                        help="backbone checkpoint to start from; with --eval-only, the classifier to evaluate")


def load_protocol_config(path: str, overrides: list[str], protocol: str) -> Any:
    from ..engine import CONFIG_KEYS

    cfg = load_config(path, overrides)
    check_known_keys(cfg, CONFIG_KEYS, path)
    if cfg.get("protocol") != protocol:
        raise ConfigError(f"{path}: is a {cfg.get('protocol')!r} recipe; run it with `maebench {cfg.get('protocol')}`")
    return cfg


def build_cfg(args: argparse.Namespace, protocol: str) -> dict[str, Any]:
    config, overrides = config_and_overrides(args, DEFAULT_CONFIGS[protocol])
    cfg = load_protocol_config(config, overrides, protocol)
    apply_common_flags(cfg, args, config, protocol, data_hint=None)  # the dataset builder says what it needs
    if args.pretrained is not None:
        cfg.pretrained = args.pretrained
    if cfg.get("linprobe_config"):  # relative to the config that names it
        cfg.linprobe_config = str((Path(config).parent / cfg.linprobe_config).resolve())
    return cfg.to_dict()


def run_command(args: argparse.Namespace, protocol: str, main) -> int:
    cfg = build_cfg(args, protocol)
    from ..engine import run

    return submit_or_run(args, main, cfg, run)
