"""`--launcher slurm` on a single command submits through submitit outside a job, and the job re-enters the
same Task with resume (the suite's own Slurm graph is tested on a real cluster in tests/suite/test_cluster.py)."""

from __future__ import annotations

import argparse

import pytest

from mae_backbone.runtime.slurm import SlurmTask, maybe_submit
from tools.pretrain import TASK


def parse(argv):
    parser = argparse.ArgumentParser()
    TASK.add_arguments(parser)
    return parser.parse_args(argv)


def test_runs_here_unless_slurm_is_asked_for_outside_a_job(monkeypatch):
    assert maybe_submit(parse([]), lambda a: 0, "w") is None
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_NTASKS", "2")
    assert maybe_submit(parse(["--launcher", "slurm"]), lambda a: 0, "w") is None  # inside a job: run


def test_submission_builds_a_requeueable_task(tmp_path, monkeypatch, capsys):
    submitit = pytest.importorskip("submitit")
    seen = {}

    def main(args):
        seen.update(launcher=args.launcher, resume=args.resume, nodes=args.nodes)
        return 0

    args = parse(["--launcher", "slurm", "--nodes", "2", "--slurm-folder", str(tmp_path)])
    # submitit's "debug" cluster runs the job in this process: the real submission path, no Slurm needed.
    real = submitit.AutoExecutor
    monkeypatch.setattr(submitit, "AutoExecutor", lambda folder: real(folder, cluster="debug"))
    assert maybe_submit(args, main, str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "submitted Slurm job" in out and "2 node(s) x 8 GPU(s)" in out
    assert SlurmTask(main, args)() == 0  # what each task runs: the same command, under slurm, resuming
    assert seen == {"launcher": "slurm", "resume": "auto", "nodes": 2}
    requeue = SlurmTask(main, args).checkpoint()
    assert isinstance(requeue.function, SlurmTask)
