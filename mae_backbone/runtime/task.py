"""One Task API for the `maebench <task>` commands and the suite.

A task (pretrain, finetune, linprobe, partial, robustness, detect, segment) is one `Task` value: its default
config, its flags (each one sets one config key), `build_cfg(config, overrides, **flags) -> dict` (the resolved
config: the file, then the overrides, then the flags) and `execute(cfg) -> metrics` (its `run(cfg)`). The command
line parses argv into those keyword flags; the suite calls `build_cfg` with them directly and never writes or
parses an argv. The resolved config is what decides a result, so it is also what a suite stage is cached on.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class Flag:
    """A command-line option that sets one config key (`key`, dotted), or that `Task.finish` reads (key None)."""

    name: str  # the option without dashes, e.g. "work-dir"; its keyword in build_cfg is "work_dir"
    key: str | None
    help: str
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    switch: bool = False  # store_true
    metavar: str | None = None
    positional: bool = False

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


# What every training task takes. `eval_only` and `data` come with each task (pretrain has no evaluation).
COMMON = (
    Flag("work-dir", "work_dir", "where logs, checkpoints and metrics.json go (default work_dirs/<task>_<config>)"),
    Flag(
        "resume",
        "resume",
        "continue from the newest complete checkpoint in the work dir (auto) or a file",
        metavar="auto|PATH",
    ),
    Flag(
        "launcher",
        "launcher",
        "distributed launcher: pytorch under torchrun, slurm under srun/submitit",
        choices=("none", "pytorch", "slurm"),
    ),
    Flag("seed", "seed", "random seed (default: the config's)", type=int),
)
EVAL_ONLY = Flag("eval-only", "eval_only", "evaluate the given/latest weights, no training", switch=True)


def data_flag(what: str) -> Flag:
    return Flag("data", "data.root", f"{what}; sets data.root")


# detection and segmentation: the backbone their ViT starts from
BACKBONE_FLAG = Flag(
    "pretrained",
    "model.pretrained",
    "backbone checkpoint (maebench .safetensors or official MAE "
    ".pth); sets model.pretrained. Without it the ViT starts from scratch",
)


@dataclass(frozen=True)
class Task:
    name: str  # the `maebench` subcommand
    default_config: str
    config_keys: str  # "module:NAME" of the top-level keys its config may have (beside its run, imported late)
    run: str  # "module:function" of its `run(cfg) -> metrics` (imported when it runs: heavy imports)
    flags: tuple[Flag, ...] = ()  # beyond COMMON
    data_hint: str | None = None  # what --data must name when the config has no data.root (None: not required)
    finish: Callable[[Any, str], None] | None = None  # task-specific resolution: finish(cfg, config_path)
    hide: tuple[str, ...] = ()  # metrics not printed on the console (long per-class lists stay in metrics.json)
    retries_inside: bool = False  # its run takes `nan_retry` itself (a sweep retries each of its runs)
    sweep_adapter: str | None = None  # "module:NAME" of its held-out sweep's SweepAdapter (runtime/sweep.py)
    common: tuple[Flag, ...] = field(default=COMMON)
    config_positional: bool = True  # `maebench <task> [CONFIG] [KEY=VALUE ...]`

    @property
    def all_flags(self) -> tuple[Flag, ...]:
        return self.common + self.flags

    # -- the resolved config -------------------------------------------------------------------------
    def build_cfg(self, config: str | None = None, overrides: Iterable[str] = (), **flags: Any) -> dict[str, Any]:
        """The config file (default: the task's), then the strict overrides, then each flag given (not None)."""
        from .config import check_known_keys, load_config

        known = {f.dest: f for f in self.all_flags}
        unknown = [k for k in flags if k not in known]
        if unknown:
            raise ConfigError(
                f"maebench {self.name}: unknown flag(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        config = config or self.default_config
        cfg = load_config(config, overrides)
        allowed = _resolve(self.config_keys)
        check_known_keys(cfg, allowed, config)
        for dest, value in flags.items():
            flag = known[dest]
            if value is None or value is False or flag.key is None:
                continue
            *parents, last = flag.key.split(".")
            node = cfg
            for part in parents:
                node = node[part]
            node[last] = value
        if self.data_hint and not cfg.get("data", {}).get("root"):
            raise ConfigError(f"no dataset: pass --data {self.data_hint} (or data.root=...)")
        if self.finish is not None:
            self.finish(cfg, config)
        if "work_dir" in allowed:
            cfg.work_dir = cfg.get("work_dir") or str(Path("work_dirs") / f"{self.name}_{Path(config).stem}")
        return cfg.to_dict()

    def execute(self, cfg: dict[str, Any], nan_retry: int = 0) -> dict[str, Any]:
        """Run it here: `run(cfg)`, resuming with half the lr after a non-finite loss at most `nan_retry` times;
        its cost (wall, device-seconds, images, FLOPs, peak memory) joins its metrics.json (runtime/cost.py).
        With `sweep.grid` and a `sweep_adapter`: the held-out recipe sweep of such runs (runtime/sweep.py)."""
        run = _resolve(self.run)
        if self.retries_inside:  # a sweep measures each of its runs
            return run(cfg, nan_retry=nan_retry)
        from .sweep import run_or_sweep

        return run_or_sweep(run, cfg, nan_retry, self.sweep_adapter)

    # -- the command line ----------------------------------------------------------------------------
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        for flag in self.flags:
            if flag.positional:
                parser.add_argument(flag.dest, help=flag.help, metavar=flag.metavar)
        if self.config_positional:
            parser.add_argument(
                "config",
                nargs="?",
                default=self.default_config,
                help=f"mmengine Python config (default: {_shown(self.default_config)})",
            )
        else:
            parser.add_argument(
                "--config",
                default=self.default_config,
                help=f"mmengine Python config (default: {_shown(self.default_config)})",
            )
        parser.add_argument(
            "overrides",
            nargs="*",
            metavar="KEY=VALUE",
            help="config overrides such as optim.lr=1e-3; an unknown key is an error",
        )
        for flag in self.all_flags:
            if flag.positional:
                continue
            kwargs: dict[str, Any] = dict(help=flag.help, dest=flag.dest, default=None)
            if flag.switch:
                kwargs.update(action="store_true", default=False)
            else:
                kwargs.update(type=flag.type, choices=flag.choices, metavar=flag.metavar)
            parser.add_argument(f"--{flag.name}", **kwargs)
        parser.add_argument(
            "--nan-retry",
            type=int,
            default=0,
            metavar="N",
            help="on a non-finite loss, resume from the last good checkpoint with half the lr, "
            "at most N times (default 0: stop and say where)",
        )
        from .slurm import add_slurm_args

        add_slurm_args(parser)

    def cfg_from_args(self, args: argparse.Namespace) -> dict[str, Any]:
        config, overrides = args.config, list(args.overrides)
        if config and "=" in config and not config.endswith(".py"):  # `maebench X a.b=1`: no config given
            config, overrides = self.default_config, [config, *overrides]
        return self.build_cfg(config, overrides, **{f.dest: getattr(args, f.dest) for f in self.all_flags})

    def main(self, args: argparse.Namespace) -> int:
        """`maebench <task>`: build the config, then submit it to Slurm (--launcher slurm outside a job) or run it
        here and print the metrics."""
        cfg = self.cfg_from_args(args)
        from .slurm import maybe_submit

        if maybe_submit(args, self, cfg["work_dir"]) is not None:
            return 0
        metrics = self.execute(cfg, args.nan_retry)
        shown = {k: v for k, v in metrics.items() if k not in self.hide}
        print(json.dumps({"work_dir": cfg["work_dir"], **shown}, indent=2))
        return 0

    def __call__(self, args: argparse.Namespace) -> int:  # what a submitted Slurm job calls (runtime/slurm.py)
        return self.main(args)


def _resolve(ref: str) -> Any:
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def _shown(path: str) -> str:
    here = Path(__file__).resolve().parents[2]
    return str(Path(path).relative_to(here)) if Path(path).is_relative_to(here) else path


def resolve_eval_weights(cfg: Any, config: str) -> None:
    """detect / segment --eval-only: evaluate --resume PATH, or the newest complete checkpoint of the work dir."""
    if cfg.get("eval_only"):
        from .workdir import resolve_resume

        cfg.load_from = resolve_resume(cfg.get("resume") or "auto", cfg.work_dir)


def dense_task(
    name: str, package: str, default_config: str, data: str, data_hint: str, flags: tuple[Flag, ...] = (), **kw: Any
) -> Task:
    """`maebench detect | segment`: a task of `package` (its `run.py: run, CONFIG_KEYS`, `sweep.py: ADAPTER` and
    `configs/<default_config>`) that takes the dataset folder (`data`: what it must hold), the backbone checkpoint
    and `--eval-only` of the trained weights, and sweeps a recipe on a held-out part of its training split."""
    return Task(
        name=name,
        default_config=str(Path(__file__).resolve().parents[2] / package / "configs" / default_config),
        config_keys=f"{package}.run:CONFIG_KEYS",
        run=f"{package}.run:run",
        flags=(data_flag(data), BACKBONE_FLAG, EVAL_ONLY, *flags),
        data_hint=data_hint,
        finish=resolve_eval_weights,
        sweep_adapter=f"{package}.sweep:ADAPTER",
        **kw,
    )
