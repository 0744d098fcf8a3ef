"""`maebench suite`: demo data -> MAE pre-training -> every transfer for each backbone (and seed) -> report.

With no arguments it runs the default demo suite (tools/configs/suite/demo.py) in work_dirs/suite, here.
With `--launcher slurm` it submits the stage graph to Slurm, one job per stage, and returns (tools/suite/slurm.py).
"""

from __future__ import annotations

import argparse
import sys

from .config import CONFIG_DIR, DEFAULT_CONFIG, load_suite


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config",
        nargs="?",
        default=str(DEFAULT_CONFIG),
        help=f"suite config (default: {DEFAULT_CONFIG.relative_to(CONFIG_DIR.parents[2])}; "
        f"also in {CONFIG_DIR.name}/: tiny.py, paper_vit_b.py, paper_vit_l.py)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="suite config overrides, e.g. protocols.finetune.overrides=\"['schedule.epochs=5']\"",
    )
    parser.add_argument("--work-dir", default=None, help="suite work dir (default: the config's, work_dirs/suite)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="redo the selected stages even if they finished (without it, a finished stage is "
        "redone only when its resolved config or inputs changed, or a stage it needs ran again)",
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="STAGE,...",
        help="run only these: stage names (mae/finetune), protocols (finetune), backbones (mae) or seeds (s1)",
    )
    parser.add_argument("--skip", default="", metavar="STAGE,...", help="do not run these (same names as --only)")
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the stages, whether a run would skip (cached), run or redo each (and why), and "
        "the command that runs each by hand; run nothing",
    )
    parser.add_argument(
        "--status",
        nargs="?",
        const=True,
        default=None,
        metavar="WORK_DIR",
        help="where each stage of a run or submitted suite stands (state, Slurm job, elapsed time, "
        "log, last metric); run nothing",
    )
    parser.add_argument(
        "--jobs",
        default=None,
        metavar="N|auto",
        help="stages run at once here, each in a worker process with its share of the CPU threads "
        "(default: the config's `jobs`; auto: one per backbone on a CPU, 1 with a GPU or a "
        "distributed launcher)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of every stage (default: the config's)")
    parser.add_argument(
        "--seeds",
        default=None,
        metavar="S,S,...",
        help="run every transfer stage once per seed (e.g. 0,1,2; pre-training runs once)",
    )
    parser.add_argument(
        "--launcher",
        choices=["none", "pytorch", "slurm"],
        default="none",
        help="none: here; pytorch: every stage distributed under torchrun; slurm: one Slurm job per "
        "stage, sized by its recipe (the config's `slurm` and `resources`), then return",
    )


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        from mae_backbone.errors import ConfigError

        raise ConfigError(f"--jobs: give a positive integer or 'auto', got {text!r}")
    return int(text)


def _seeds(text: str) -> list[int]:
    try:
        return [int(t) for t in _split(text)]
    except ValueError:
        from mae_backbone.errors import ConfigError

        raise ConfigError(f"--seeds: give comma-separated integers such as 0,1,2, got {text!r}") from None


def _list(suite: dict, stages: list, force: bool) -> None:
    """Each selected stage, what a run would do with it (cached / run / redo and why) and its command line."""
    from pathlib import Path

    from .cache import recipe, stage_action

    will_run: set[str] = set()
    width = max([len(s.name) for s in stages] + [22])
    for s in stages:
        action, why = stage_action(s, recipe(s, s.build_cfg(), Path(suite["work_dir"])), force, will_run)
        state = f"redo: {why}" if why else action
        if action != "cached":
            will_run.add(s.name)
        needs = f"  (after {', '.join(s.needs)})" if s.needs else ""
        print(f"{s.name:<{width}} [{state}] {s.command_line()}{needs}")


def main(args: argparse.Namespace) -> int:
    config, overrides = args.config, list(args.overrides)
    if config and "=" in config and not config.endswith(".py"):  # `maebench suite key=value`: no config given
        config, overrides = str(DEFAULT_CONFIG), [config, *overrides]
    if args.status is not None and args.status is not True:
        from .status import show_status

        return show_status(args.status, sys.stdout)
    extra = [f"work_dir={args.work_dir!r}"] if args.work_dir else []
    extra += [f"seed={args.seed}"] if args.seed is not None else []
    extra += [f"seeds={_seeds(args.seeds)}"] if args.seeds else []
    if args.jobs is not None:
        extra += [f"jobs={None if args.jobs == 'auto' else _positive(args.jobs)}"]
    suite = load_suite(config, overrides + extra)
    if args.status:
        from .status import show_status

        return show_status(suite["work_dir"], sys.stdout)
    from .stages import build_plan, select

    planned = build_plan(suite)
    stages = select(planned, _split(args.only), _split(args.skip))
    if args.list:
        _list(suite, stages, args.force)
        return 0
    from .status import save_resolved

    save_resolved(suite)
    if args.launcher == "slurm":
        from .slurm import submit

        if suite.get("demo"):  # the jobs read the world: make it before anything is queued
            from .runner import _demo_world

            _demo_world(suite["demo"])
        return submit(suite, planned, stages, args.force)
    import torch

    from .runner import run_suite
    from .workers import resolve_jobs

    jobs = resolve_jobs(
        suite["jobs"], args.launcher, len(suite["backbones"]), torch.get_num_threads(), torch.cuda.is_available()
    )
    return run_suite(suite, stages, planned=planned, force=args.force, launcher=args.launcher, jobs=jobs)
