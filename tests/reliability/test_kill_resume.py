"""SIGKILL a real `maebench pretrain` process at random points, resume, and get the uninterrupted result.

Checks: no torn checkpoint is ever picked up, at most one checkpoint interval of work is redone, and on
CPU with a fixed seed the resumed run ends bit-for-bit equal to an uninterrupted one.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mae_backbone.runtime.workdir import is_complete_checkpoint, latest_complete_checkpoint

# One intra-op thread: steadier on a shared machine, and the same numbers as an in-process run on one thread.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def cli(*args: str) -> list[str]:
    """A real `maebench` process."""
    return [sys.executable, "-m", "tools.cli", *args]


def sigkill_when(argv: list[str], ready: Callable[[], bool], log: Path | None = None) -> bool:
    """Start `argv`, SIGKILL it once `ready()` holds (polled every millisecond); False if it ended first.

    At `ready()` the process is frozen (SIGSTOP) and `ready()` asked again: only a state that still holds
    while nothing runs is killed in (a checkpoint caught mid-write stays mid-write); otherwise it runs on.
    """
    out = open(log, "w") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=ENV)
        while proc.poll() is None:
            if ready():
                proc.send_signal(signal.SIGSTOP)
                if ready():
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    return True
                proc.send_signal(signal.SIGCONT)
            time.sleep(0.001)
        return False
    finally:
        if log:
            out.close()


def assert_no_torn_checkpoint_visible(work: Path) -> None:
    """Whatever is visible under a checkpoint's final name is complete (a torn write stays a `.*.tmp`)."""
    for ckpt in work.glob("*_*.pth"):
        assert is_complete_checkpoint(ckpt), f"torn checkpoint visible: {ckpt}"


EPOCHS = 4


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(1)
    for i in range(32):
        Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(root / f"{i}.png")
    return root


def command(images: Path, work_dir: Path) -> list[str]:
    return cli(
        "pretrain",
        "--data",
        str(images),
        "--work-dir",
        str(work_dir),
        "--resume",
        "auto",
        "model.img_size=32",
        "data.batch_size=8",
        "data.num_workers=0",
        f"schedule.epochs={EPOCHS}",
        "schedule.warmup_epochs=1",
        "schedule.checkpoint_interval=1",
        "optim.precision='fp32'",
        "seed=7",
    )


def run_to_end(images: Path, work_dir: Path) -> None:
    subprocess.run(command(images, work_dir), check=True, capture_output=True, env=ENV, timeout=300)


def final_weights(work_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(work_dir / f"epoch_{EPOCHS}.pth", weights_only=True)["state_dict"]


def test_sigkill_at_random_points_then_resume_matches_an_uninterrupted_run(images, tmp_path):
    start = time.monotonic()
    run_to_end(images, tmp_path / "straight")
    duration = time.monotonic() - start  # kill moments scale with this machine's speed, so a kill always lands
    reference = final_weights(tmp_path / "straight")
    rng = random.Random(0)
    work = tmp_path / "killed"
    kills = 0
    for _ in range(3):  # kill at several random moments: while starting, training, or writing a checkpoint
        before = latest_complete_checkpoint(work) if work.exists() else None
        deadline = time.monotonic() + rng.uniform(0.3, 0.9) * duration
        kills += sigkill_when(command(images, work), lambda d=deadline: time.monotonic() > d)
        assert_no_torn_checkpoint_visible(work)
        after = latest_complete_checkpoint(work) if work.exists() else None
        if before is not None:  # progress is never lost: the newest good checkpoint never moves back
            assert after is not None and int(after.stem.split("_")[1]) >= int(before.stem.split("_")[1])
    run_to_end(images, work)
    resumed = final_weights(work)
    assert kills >= 1
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)
