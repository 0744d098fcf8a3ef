"""What every training subcommand shares: its flags (config, overrides, --work-dir, --resume, --eval-only,
--launcher, --seed, --nan-retry, Slurm) and what it does with the config they make (`submit_or_run`)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError


def add_common_args(parser: argparse.ArgumentParser, default_config: str | None = None) -> None:
    parser.add_argument("config", nargs="?", default=default_config,
                        help="mmengine Python config" + (f" (default: {default_config})" if default_config else ""))
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides such as optim.lr=1e-3; an unknown key is an error")
    parser.add_argument("--work-dir", default=None, help="where logs, checkpoints and metrics.json go")
    parser.add_argument("--resume", default=None, metavar="auto|PATH",
                        help="continue from the newest complete checkpoint in the work dir (auto) or a file")
    parser.add_argument("--eval-only", action="store_true", help="evaluate the given/latest weights, no training")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none",
                        help="distributed launcher: pytorch under torchrun, slurm under srun/submitit")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the config's)")
    parser.add_argument("--nan-retry", type=int, default=0, metavar="N",
                        help="on a non-finite loss, resume from the last good checkpoint with half the lr, "
                             "at most N times (default 0: stop and say where)")
    from .slurm import add_slurm_args

    add_slurm_args(parser)


def config_and_overrides(args: argparse.Namespace, default_config: str | None) -> tuple[str, list[str]]:
    """`maebench X a.b=1` has no config: the first positional is then an override, not a file name."""
    config, overrides = args.config, list(args.overrides)
    if config and "=" in config and not config.endswith(".py"):
        config, overrides = default_config, [config, *overrides]
    return config, overrides


def apply_common_flags(cfg: Any, args: argparse.Namespace, config: str, name: str, data_hint: str | None,
                       has_eval_only: bool = True) -> None:
    """The shared flags win over the config file: --data (data.root; required when `data_hint` names what to
    pass), --seed, --work-dir (default work_dirs/<name>_<config stem>), --launcher, --resume, --eval-only."""
    if args.data:
        cfg.data.root = args.data
    if data_hint and not cfg.data.root:
        raise ConfigError(f"no dataset: pass --data {data_hint} (or data.root=...)")
    if args.seed is not None:
        cfg.seed = args.seed
    cfg.work_dir = args.work_dir or cfg.get("work_dir") or str(Path("work_dirs") / f"{name}_{Path(config).stem}")
    cfg.launcher, cfg.resume = args.launcher, args.resume
    if has_eval_only:  # pretrain has no evaluation and no such key
        cfg.eval_only = bool(args.eval_only)


def submit_or_run(args: argparse.Namespace, main: Callable[[argparse.Namespace], int], cfg: dict[str, Any],
                  run: Callable[[dict[str, Any]], dict[str, Any]], hide: tuple[str, ...] = ()) -> int:
    """Hand the job to Slurm when the flags ask for it (`main` is what the submitted job calls); otherwise run
    it here, resuming with half the lr after a non-finite loss `--nan-retry` times, and print the metrics
    (but the `hide` keys: long per-class lists stay in metrics.json)."""
    from .slurm import maybe_submit

    submitted = maybe_submit(args, main, cfg["work_dir"])
    if submitted is not None:
        return submitted
    from .engine import run_with_nan_retry

    metrics = run_with_nan_retry(run, cfg, args.nan_retry)
    shown = {k: v for k, v in metrics.items() if k not in hide}
    print(json.dumps({"work_dir": cfg["work_dir"], **shown}, indent=2))
    return 0
