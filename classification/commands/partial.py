"""`maebench partial`: partial fine-tuning of the last k blocks; `--blocks 0,1,2,4,mlp` sweeps k and plots
the accuracy-vs-k curve (paper Fig. 9). Optimizer overrides apply to k >= 1; k = 0 runs the config's
`linprobe_config` recipe with this run's dataset, architecture, input size, checkpoint and seed."""
from __future__ import annotations

import argparse
import json

from . import add_training_arguments, build_cfg, load_protocol_config, run_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_arguments(parser, "partial")
    parser.add_argument("--blocks", default=None, metavar="K,K,...",
                        help="sweep: comma-separated numbers of tuned blocks and/or 'mlp' (e.g. 0,1,2,4,6,mlp); "
                             "each k in WORK_DIR/k<k>, finished ones are skipped")


def main(args: argparse.Namespace) -> int:
    if not args.blocks:
        return run_command(args, "partial", main)
    if args.eval_only:
        from mae_backbone.errors import ConfigError

        raise ConfigError("--eval-only evaluates one classifier: use `maebench partial --eval-only` without --blocks")
    from mae_backbone.factory import variant_args

    from ..engine import run
    from ..partial import parse_blocks, run_sweep

    cfg = build_cfg(args, "partial")
    depth = variant_args(cfg["arch"])["depth"]  # each run checks k again against its built backbone
    blocks = parse_blocks(args.blocks, depth)
    from mae_backbone.runtime.engine import run_with_nan_retry

    summary = run_sweep(cfg, blocks, lambda path: load_protocol_config(path, [], "linprobe").to_dict(),
                        lambda sub: run_with_nan_retry(run, sub, args.nan_retry))
    print(json.dumps({"work_dir": cfg["work_dir"], "top1": summary["top1"]}, indent=2))
    return 0
