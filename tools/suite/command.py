"""`maebench suite`: demo data -> MAE pre-training -> every transfer for each backbone -> report.

With no arguments it runs the default demo suite (tools/configs/suite/demo.py) in work_dirs/suite.
"""
from __future__ import annotations

import argparse

from .config import CONFIG_DIR, DEFAULT_CONFIG, load_suite


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=str(DEFAULT_CONFIG),
                        help=f"suite config (default: {DEFAULT_CONFIG.relative_to(CONFIG_DIR.parents[2])}; "
                             f"also in {CONFIG_DIR.name}/: tiny.py, paper_vit_b.py, paper_vit_l.py)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="suite config overrides, e.g. protocols.finetune.overrides=\"['schedule.epochs=5']\"")
    parser.add_argument("--work-dir", default=None, help="suite work dir (default: the config's, work_dirs/suite)")
    parser.add_argument("--force", action="store_true",
                        help="redo the selected stages even if they finished (without it, a finished stage is "
                             "redone only when its command line or seed changed, or a stage it needs ran again)")
    parser.add_argument("--only", default="", metavar="STAGE,...",
                        help="run only these: stage names (mae/finetune), protocols (finetune) or backbones (mae)")
    parser.add_argument("--skip", default="", metavar="STAGE,...", help="do not run these (same names as --only)")
    parser.add_argument("--list", action="store_true",
                        help="print the stages, whether a run would skip (cached), run or redo each (and why), and "
                             "their command lines; run nothing")
    parser.add_argument("--jobs", default=None, metavar="N|auto",
                        help="stages run at once, each in a worker process with its share of the CPU threads "
                             "(default: the config's `jobs`; auto: one per backbone on a CPU, 1 with a GPU "
                             "or a distributed launcher)")
    parser.add_argument("--seed", type=int, default=None, help="seed of every stage (default: the config's)")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none",
                        help="passed to every stage: pytorch under torchrun; slurm submits the whole suite as one job")
    from mae_backbone.runtime.slurm import add_slurm_args

    add_slurm_args(parser)


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        from mae_backbone.errors import ConfigError

        raise ConfigError(f"--jobs: give a positive integer or 'auto', got {text!r}")
    return int(text)


def _list(suite: dict, stages: list, args: argparse.Namespace) -> None:
    """Each selected stage, what a run would do with it (cached / run / redo and why) and its command line."""
    from pathlib import Path

    from .runner import stage_action

    will_run: set[str] = set()
    for s in stages:
        action, why = stage_action(s, suite.get("seed"), Path(suite["work_dir"]), args.force, will_run)
        state = f"redo: {why}" if why else action
        if action != "cached":
            will_run.add(s.name)
        needs = f"  (after {', '.join(s.needs)})" if s.needs else ""
        argv = " ".join(s.argv(suite.get("seed"), args.launcher, s.accepted_flags()))
        print(f"{s.name:<22} [{state}] maebench {s.spec.command} {argv}{needs}")


def main(args: argparse.Namespace) -> int:
    config, overrides = args.config, list(args.overrides)
    if config and "=" in config and not config.endswith(".py"):  # `maebench suite key=value`: no config given
        config, overrides = str(DEFAULT_CONFIG), [config, *overrides]
    extra = [f"work_dir={args.work_dir!r}"] if args.work_dir else []
    extra += [f"seed={args.seed}"] if args.seed is not None else []
    if args.jobs is not None:
        extra += [f"jobs={None if args.jobs == 'auto' else _positive(args.jobs)}"]
    suite = load_suite(config, overrides + extra)
    from .stages import build_plan, select

    planned = build_plan(suite)
    stages = select(planned, _split(args.only), _split(args.skip))
    if args.list:
        _list(suite, stages, args)
        return 0
    from mae_backbone.runtime.slurm import maybe_submit

    submitted = maybe_submit(args, main, suite["work_dir"])  # outside a Slurm job: submit the suite as one job
    if submitted is not None:
        return submitted
    import torch

    from .runner import run_suite
    from .workers import resolve_jobs

    jobs = resolve_jobs(suite["jobs"], args.launcher, len(suite["backbones"]), torch.get_num_threads(),
                        torch.cuda.is_available())
    return run_suite(suite, stages, planned=planned, force=args.force, launcher=args.launcher, jobs=jobs)

