"""`--launcher slurm`: outside a Slurm job, submit the same command with submitit; inside one, run it.

As in the official MAE repo (submitit_pretrain.py), one task per GPU; every task re-enters the same
command with `--resume auto`, so a preempted or timed-out job requeues itself and continues from its
newest complete checkpoint. mmengine's `init_dist("slurm")` then reads the SLURM_* variables (on nodes without
CUDA, where it would call `torch.cuda.set_device`, `runtime.distributed.init_cpu_launch` starts a gloo group from them).
"""

from __future__ import annotations

import argparse
import copy
import os
from collections.abc import Callable
from pathlib import Path


def add_slurm_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("slurm (with --launcher slurm, outside a Slurm job)")
    group.add_argument("--nodes", type=int, default=1)
    group.add_argument("--gpus-per-node", type=int, default=8)
    group.add_argument("--partition", default=None)
    group.add_argument("--timeout-min", type=int, default=4320, help="job time limit; the job requeues itself")
    group.add_argument("--slurm-folder", default=None, help="submitit logs (default: WORK_DIR/slurm)")


def inside_slurm_job() -> bool:
    return "SLURM_PROCID" in os.environ and "SLURM_NTASKS" in os.environ


class SlurmTask:
    """The callable submitit pickles: re-runs the command's `main` inside every Slurm task."""

    def __init__(self, main: Callable[[argparse.Namespace], int], args: argparse.Namespace):
        self.main, self.args = main, args

    def __call__(self) -> int:
        args = copy.copy(self.args)
        args.launcher, args.resume = "slurm", "auto"
        return self.main(args)

    def checkpoint(self):  # submitit calls this on preemption / timeout: requeue and resume
        import submitit

        return submitit.helpers.DelayedSubmission(SlurmTask(self.main, self.args))


def maybe_submit(args: argparse.Namespace, main: Callable[[argparse.Namespace], int], work_dir: str) -> int | None:
    """Submit and return 0 when `--launcher slurm` is asked for outside a job; None means: run here."""
    if getattr(args, "launcher", "none") != "slurm" or inside_slurm_job():
        return None
    import submitit

    folder = Path(args.slurm_folder or Path(work_dir) / "slurm")
    executor = submitit.AutoExecutor(folder=str(folder / "%j"))
    params = dict(
        nodes=args.nodes,
        tasks_per_node=args.gpus_per_node,
        gpus_per_node=args.gpus_per_node,
        cpus_per_task=10,
        timeout_min=args.timeout_min,
        name=f"maebench-{Path(work_dir).name}",
    )
    if args.partition:
        params["slurm_partition"] = args.partition
    executor.update_parameters(**params)
    job = executor.submit(SlurmTask(main, args))
    print(
        f"submitted Slurm job {job.job_id}: {args.nodes} node(s) x {args.gpus_per_node} GPU(s); "
        f"logs in {folder / str(job.job_id)}"
    )
    return 0
